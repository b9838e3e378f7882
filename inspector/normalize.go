package inspector

import (
	"strings"
	"unicode"
)

// persianReplacer folds the variants people type for the same Persian text:
// Arabic yeh and kaf (common on Arabic keyboards), Persian and Arabic-Indic
// digits, and the zero-width non-joiner, which is invisible and inconsistent.
var persianReplacer = strings.NewReplacer(
	"ي", "ی", "ى", "ی", "ك", "ک", "ة", "ه", "ۀ", "ه", "أ", "ا", "إ", "ا", "ٱ", "ا",
	"۰", "0", "۱", "1", "۲", "2", "۳", "3", "۴", "4", "۵", "5", "۶", "6", "۷", "7", "۸", "8", "۹", "9",
	"٠", "0", "١", "1", "٢", "2", "٣", "3", "٤", "4", "٥", "5", "٦", "6", "٧", "7", "٨", "8", "٩", "9",
	"\u200c", " ", "\u200d", "", "ـ", "", // ZWNJ, ZWJ, tatweel
)

// NormalizeText folds s for search and comparison: Arabic letter variants to
// Persian, all digits to ASCII, Latin to lower case, diacritics removed and
// runs of space collapsed. It is idempotent.
func NormalizeText(s string) string {
	s = persianReplacer.Replace(strings.ToValidUTF8(s, "\uFFFD"))
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r): // Arabic harakat and other combining marks
			continue
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// arabicLetters are the Arabic keyboard's yeh and kaf, typed for the Persian ones.
var arabicLetters = strings.NewReplacer("ي", "ی", "ى", "ی", "ك", "ک")

// PersianLetters writes the Arabic keyboard's yeh and kaf in s as the
// Persian letters, so that a name typed on either keyboard is stored one
// way: lists then show one «قزوین», not «قزوين» beside it. Nothing else
// changes (digits, spacing and the other letters stay as typed).
func PersianLetters(s string) string { return arabicLetters.Replace(s) }

// NationalNumber is an Iranian phone number's digits without its country
// or trunk prefix (+98, 0098, 98 before ten digits, or 0): "+98 912 765
// 4321", "00989127654321" and "09127654321" are all "9127654321", so that
// a number typed one way finds it stored another. s is digits only.
func NationalNumber(s string) string {
	switch {
	case strings.HasPrefix(s, "0098"):
		return s[4:]
	case strings.HasPrefix(s, "98") && len(s) == 12:
		return s[2:]
	case strings.HasPrefix(s, "0"):
		return s[1:]
	}
	return s
}

// NormalizeDigits turns Persian and Arabic-Indic digits in s into ASCII and
// leaves everything else alone. Use it for phone numbers and codes.
func NormalizeDigits(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= '۰' && r <= '۹':
			return '0' + (r - '۰')
		case r >= '٠' && r <= '٩':
			return '0' + (r - '٠')
		}
		return r
	}, s)
}

// NormalizePhone is a phone number as stored: trimmed, digits folded to
// ASCII, spaces and dashes dropped, so that "0912-123 4567" and
// "۰۹۱۲۱۲۳۴۵۶۷" are the same number. A leading + is kept.
func NormalizePhone(s string) string {
	return strings.NewReplacer(" ", "", "-", "").Replace(NormalizeDigits(strings.TrimSpace(s)))
}
