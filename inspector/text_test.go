package inspector

import "testing"

func TestIsBlankIgnoresInvisibleCharacters(t *testing.T) {
	blank := []string{"", "  \t\n", "\u200c", "\u200d\u200c", "\u200e\u200f", "\u202a\u202b\u202c\u202d\u202e",
		"\u2066\u2067\u2068\u2069", "\ufeff", " \u200b \u00a0\u3000", "\u2060\u00ad"}
	for _, s := range blank {
		if !IsBlank(s) {
			t.Errorf("IsBlank(%+q) = false, want true", s)
		}
	}
	// Persian text keeps its zero-width non-joiner (نیم‌فاصله) inside words.
	notBlank := []string{"a", "می‌خواهم", "\u200cب", "\u200f۱"}
	for _, s := range notBlank {
		if IsBlank(s) {
			t.Errorf("IsBlank(%+q) = true, want false", s)
		}
	}
}

func TestControlRune(t *testing.T) {
	ok := []string{"", "line one\nline two", "a\tb", "windows\r\nline", "می‌خواهم", "\u200f"}
	for _, s := range ok {
		if r, bad := ControlRune(s); bad {
			t.Errorf("ControlRune(%+q) = %U, want none", s, r)
		}
	}
	bad := map[string]rune{"a\x00b": 0, "\x07": 7, "a\rb": '\r', "end\r": '\r', "\x7f": 0x7f, "\u0085": 0x85, "\x1b[31m": 0x1b}
	for s, want := range bad {
		if r, found := ControlRune(s); !found || r != want {
			t.Errorf("ControlRune(%+q) = %U, %v; want %U", s, r, found, want)
		}
	}
}
