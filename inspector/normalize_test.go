package inspector_test

import (
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/favad/favad/inspector"
)

func TestNormalizeText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"Arabic yeh to Persian", "علي", "علی"},
		{"Arabic alef maksura to Persian yeh", "مصطفى", "مصطفی"},
		{"Arabic kaf to Persian", "كارمند", "کارمند"},
		{"Arabic yeh and kaf together", "كيف", "کیف"},
		{"teh marbuta to heh", "مدرسة", "مدرسه"},
		{"heh with yeh above to heh", "خانۀ", "خانه"},
		{"alef with hamza", "أإٱ", "ااا"},
		{"Persian digits", "۰۱۲۳۴۵۶۷۸۹", "0123456789"},
		{"Arabic-Indic digits", "٠١٢٣٤٥٦٧٨٩", "0123456789"},
		{"mixed digits in a phone", "۰۲۸-٣٣٠٠٠١٠١", "028-33000101"},
		{"ZWNJ becomes a space", "می\u200cخواهم", "می خواهم"},
		{"ZWNJ and space collapse", "می\u200c خواهم", "می خواهم"},
		{"ZWJ removed", "ل\u200dا", "لا"},
		{"tatweel removed", "سلـــام", "سلام"},
		{"fatha, damma, shadda removed", "مُحَمَّد", "محمد"},
		{"tanwin and sukun removed", "حتماً مَسْجِد", "حتما مسجد"},
		{"superscript alef removed", "رحمٰن", "رحمن"},
		{"Latin combining accent removed", "cafe\u0301", "cafe"},
		{"whitespace collapsed and trimmed", "  a \t b\n\n c  ", "a b c"},
		{"non-breaking and ideographic spaces", "a\u00a0\u00a0b\u3000c", "a b c"},
		{"only whitespace", " \t\u200c\n ", ""},
		{"Latin lower-cased", "ABC Def QZ-SSO-01", "abc def qz-sso-01"},
		{"Persian untouched", "شعبه یک تامین اجتماعی قزوین", "شعبه یک تامین اجتماعی قزوین"},
		{"a whole office name typed on an Arabic keyboard", " شعبه ١ تامين  اجتماعي\u200cقزوين ", "شعبه 1 تامین اجتماعی قزوین"},
		{"invalid UTF-8 becomes U+FFFD", "a\xffb", "a\uFFFDb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := inspector.NormalizeText(tt.in)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, got, inspector.NormalizeText(got), "not idempotent")
		})
	}
}

func TestNormalizeTextTypedVariantsMatch(t *testing.T) {
	// What a dispatcher types on an Arabic keyboard must find what was stored
	// from a Persian one, and the reverse.
	pairs := [][2]string{
		{"کارمند در محل کار نیست", "كارمند در محل كار نيست"},
		{"شعبه ۲ بیمه", "شعبه 2 بيمه"},
		{"بوئین\u200cزهرا", "بوئين زهرا"},
		{"می‌خواهم", "مي خواهم"},
	}
	for _, p := range pairs {
		assert.Equal(t, inspector.NormalizeText(p[0]), inspector.NormalizeText(p[1]), "%q vs %q", p[0], p[1])
	}
}

func TestNormalizeDigits(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"۰۹۱۲۱۲۳۴۵۶۷", "09121234567"},
		{"٠٩١٢١٢٣٤٥٦٧", "09121234567"},
		{"+۹۸ ۹۱۲-١٢٣-٤٥٦٧", "+98 912-123-4567"},
		{"0912", "0912"},
		{"۰۷:۳۰", "07:30"},
		// Only digits: letters, ZWNJ and case are left alone.
		{"علي ۱", "علي 1"},
		{"AB\u200cc", "AB\u200cc"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, inspector.NormalizeDigits(tt.in), "%q", tt.in)
	}
}

// persianish draws strings that exercise every rule of NormalizeText: both
// spellings of yeh and kaf, every kind of digit, ZWNJ, ZWJ, tatweel,
// diacritics, spaces of several kinds and cased Latin letters.
func persianish() *rapid.Generator[string] {
	alphabet := []rune("ابپتثجچحخدذرزژسشصضطظعغفقکگلمنوهیيكىةۀأإٱئؤآ" +
		"۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩0123456789" +
		"\u200c\u200dـ\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652\u0670\u0654\u0301" +
		" \t\n\u00a0\u3000" +
		"aBcDzZİK\u212a-.,:")
	return rapid.StringOf(rapid.SampledFrom(alphabet))
}

func TestNormalizeTextProperties(t *testing.T) {
	check := func(t *rapid.T, s string) {
		once := inspector.NormalizeText(s)
		if twice := inspector.NormalizeText(once); twice != once {
			t.Fatalf("not idempotent: %q → %q → %q", s, once, twice)
		}
		if !utf8.ValidString(once) {
			t.Fatalf("invalid UTF-8 out of %q: %q", s, once)
		}
		if strings.HasPrefix(once, " ") || strings.HasSuffix(once, " ") || strings.Contains(once, "  ") {
			t.Fatalf("space not collapsed: %q", once)
		}
		for _, r := range once {
			switch {
			case r == 'ي' || r == 'ك' || r == 'ى' || r == '\u200c' || r == '\u200d' || r == 'ـ':
				t.Fatalf("%q left in %q", r, once)
			case r >= '۰' && r <= '۹', r >= '٠' && r <= '٩':
				t.Fatalf("non-ASCII digit %q left in %q", r, once)
			case unicode.Is(unicode.Mn, r):
				t.Fatalf("combining mark %U left in %q", r, once)
			case unicode.IsSpace(r) && r != ' ':
				t.Fatalf("whitespace %U left in %q", r, once)
			}
		}
	}
	t.Run("persian-ish", func(t *testing.T) {
		rapid.Check(t, func(t *rapid.T) { check(t, persianish().Draw(t, "s")) })
	})
	t.Run("any valid string", func(t *testing.T) {
		rapid.Check(t, func(t *rapid.T) { check(t, rapid.String().Draw(t, "s")) })
	})
	t.Run("concatenation of normalised words", func(t *testing.T) {
		// Normalising joined words equals joining normalised words: search
		// can normalise a query and a haystack separately.
		rapid.Check(t, func(t *rapid.T) {
			a, b := persianish().Draw(t, "a"), persianish().Draw(t, "b")
			na, nb := inspector.NormalizeText(a), inspector.NormalizeText(b)
			if na == "" || nb == "" {
				return
			}
			require.Equal(t, na+" "+nb, inspector.NormalizeText(a+" "+b))
		})
	})
}

func TestNormalizeDigitsProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := persianish().Draw(t, "s")
		d := inspector.NormalizeDigits(s)
		require.Equal(t, d, inspector.NormalizeDigits(d), "idempotent")
		require.Equal(t, utf8.RuneCountInString(s), utf8.RuneCountInString(d), "one rune for one rune")
		for _, r := range d {
			if (r >= '٠' && r <= '٩') || (r >= '۰' && r <= '۹') {
				t.Fatalf("digit %q left in %q", r, d)
			}
		}
	})
}

func FuzzNormalizeText(f *testing.F) {
	for _, seed := range []string{
		"", " ", "علي", "كارمند", "۱۲۳٤٥٦", "می\u200cخواهم", "سلـــام", "مُحَمَّد",
		"  a \t b\n c  ", "ABC", "شعبه ١ تامين  اجتماعي", "\u00a0\u3000", "a\xffb", "\xd9",
		"İK\u212a", "خانۀ مدرسة", "\u200d\u200c\u200d",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		once := inspector.NormalizeText(s)
		// Output is always valid UTF-8 (invalid bytes become U+FFFD), so a
		// normalised string is safe to store and to send as JSON.
		if !utf8.ValidString(once) {
			t.Fatalf("%q normalised to invalid UTF-8 %q", s, once)
		}
		// Idempotence is checked on valid input; see
		// TestNormalizeTextIdempotentOnInvalidUTF8 for invalid input.
		if utf8.ValidString(s) {
			if twice := inspector.NormalizeText(once); twice != once {
				t.Fatalf("not idempotent: %q → %q → %q", s, once, twice)
			}
		}
	})
}

// Regression: NormalizeText is documented as idempotent, but on invalid UTF-8
// the replacer can delete a character (tatweel, ZWJ) that sat between the two
// halves of an Arabic letter, so the first pass builds an Arabic yeh that only
// the second pass turns into a Persian one. A URL query string can carry such
// bytes straight into ListComplaints.
func TestNormalizeTextIdempotentOnInvalidUTF8(t *testing.T) {
	for _, s := range []string{"\xd9ـ\x8a", "\xd9\u200d\x83", "\xd9ـ\x89"} {
		once := inspector.NormalizeText(s)
		assert.Equal(t, once, inspector.NormalizeText(once), "%q", s)
	}
}

func ExampleNormalizeText() {
	stored := inspector.NormalizeText("شعبه ۱ تامین\u200cاجتماعی")
	typed := inspector.NormalizeText("شعبه 1 تامين اجتماعي")
	fmt.Println(stored == typed)
	fmt.Println(inspector.NormalizeText("  QZ-SSO-01  ٠٢٨ "))
	// Output:
	// true
	// qz-sso-01 028
}

func ExampleNormalizeDigits() {
	fmt.Println(inspector.NormalizeDigits("۰۹۱۲-٣٤٥-۶۷۸۹"))
	// Output: 0912-345-6789
}

func BenchmarkNormalizeText(b *testing.B) {
	s := strings.Repeat("كارمند شعبه ١٢ تامين\u200cاجتماعي در محل كار نيست و مراجعين منتظرند. ", 20)
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		inspector.NormalizeText(s)
	}
}
