package inspector

import (
	"unicode"
)

// IsBlank reports whether s shows nothing: it is empty or made only of
// white space and invisible format characters (Unicode category Cf: the
// zero-width non-joiner and joiner, direction marks and embeddings, the
// byte-order mark, …). Persian text uses the zero-width non-joiner inside
// words (نیم‌فاصله); such text is not blank, and is stored as sent.
func IsBlank(s string) bool {
	for _, r := range s {
		if !unicode.IsSpace(r) && !unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}

// ControlRune returns the first control character in s (Unicode category
// Cc: NUL, escape, DEL, the C1 controls, …) that text may not hold, and
// whether there is one. Tab and line breaks (LF, or CR LF) are allowed; a
// CR on its own is not.
func ControlRune(s string) (rune, bool) {
	prev := rune(-1)
	for _, r := range s {
		if prev == '\r' && r != '\n' {
			return '\r', true
		}
		prev = r
		if r == '\t' || r == '\n' || r == '\r' || !unicode.Is(unicode.Cc, r) {
			continue
		}
		return r, true
	}
	if prev == '\r' {
		return '\r', true
	}
	return 0, false
}
