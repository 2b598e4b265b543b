package apply

import (
	"testing"
	"time"
)

var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestCheckUSCC(t *testing.T) {
	tests := []struct {
		in, norm string
		want     Code
	}{
		{"91350100M000100Y43", "91350100M000100Y43", ""},
		{"91350100m000100y43", "91350100M000100Y43", ""},            // lower case typed
		{" 9135 0100 M000 100Y 43 ", "91350100M000100Y43", ""},      // spaces from a copy
		{"９１３５０１００Ｍ０００１００Ｙ４３", "91350100M000100Y43", ""},            // full-width IME input
		{"91350100M000100Y44", "91350100M000100Y44", CodeUSCCCheck}, // last char wrong
		{"91350100M000100Y34", "91350100M000100Y34", CodeUSCCCheck}, // two chars swapped
		{"91350100M00010OY43", "91350100M00010OY43", CodeUSCCChars}, // letter O for zero
		{"9135010OM000100Y43", "9135010OM000100Y43", CodeUSCCChars}, // division code not digits
		{"91350100M000100Y4", "91350100M000100Y4", CodeUSCCLength},
		{"91350100M000100Y433", "91350100M000100Y433", CodeUSCCLength},
		{"", "", CodeRequired},
	}
	for _, tt := range tests {
		norm, got := CheckUSCC(tt.in)
		if got != tt.want || norm != tt.norm {
			t.Errorf("CheckUSCC(%q) = %q, %q; want %q, %q", tt.in, norm, got, tt.norm, tt.want)
		}
	}
}

// Every single-character substitution of a valid code must be caught: that
// is the point of a mod-31 check character.
func TestUSCCCatchesEverySingleSubstitution(t *testing.T) {
	valid := "91350100M000100Y43"
	for i := 0; i < 18; i++ {
		for j := 0; j < len(usccAlphabet); j++ {
			c := usccAlphabet[j]
			if c == valid[i] {
				continue
			}
			mut := valid[:i] + string(c) + valid[i+1:]
			if _, code := CheckUSCC(mut); code == "" {
				t.Fatalf("substitution %q at %d accepted: %s", c, i, mut)
			}
		}
	}
}

func TestCheckResidentID(t *testing.T) {
	tests := []struct {
		in   string
		want Code
	}{
		{"11010519491231002X", ""}, // GB 11643-1999's example
		{"11010519491231002x", ""}, // lower-case x
		{"110105194912310021", CodeIDCheck},
		{"11010519491231002", CodeIDLength},
		{"110105491231002", CodeIDOld15},
		{"1101051949123100X2", CodeIDChars},
		{"99010519491231002X", CodeIDRegion},
		{"110105194902300023", CodeIDBirth}, // 30 February
		{"110105203001010011", CodeIDBirth}, // born in 2030
		// The standard's other example has a correct check digit, but an
		// applicant born in 1880 is not a living person.
		{"440524188001010014", CodeIDBirth},
		{"", CodeRequired},
	}
	for _, tt := range tests {
		if _, got := CheckResidentID(tt.in, testNow); got != tt.want {
			t.Errorf("CheckResidentID(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if c, ok := ResidentIDCheckChar("44052418800101001"); !ok || c != '4' {
		t.Errorf("check char of the standard's 1880 example = %q, want '4'", c)
	}
}

func TestCheckIDNumberOtherTypes(t *testing.T) {
	tests := []struct {
		typ  IDType
		in   string
		want Code
	}{
		{IDHKMacauPermit, "H12345678", ""},
		{IDHKMacauPermit, "m1234567890", ""},
		{IDHKMacauPermit, "X12345678", CodeIDFormat},
		{IDTaiwanPermit, "12345678", ""},
		{IDTaiwanPermit, "1234567", CodeIDFormat},
		{IDResidencePerm, "81000019900101001" + string(mustCheck("81000019900101001")), ""},
		{IDResidencePerm, "11010519491231002X", CodeIDRegion}, // a mainland ID is not a residence permit
		{IDForeignPermRes, "USA123456789012", ""},
		{IDForeignPermRes, "93310019900101001" + string(mustCheck("93310019900101001")), ""},
		{IDForeignPermRes, "93310019900101001" + string(wrongCheck("93310019900101001")), CodeIDFormat},
		{IDPassport, "E12345678", ""},
		{IDPassport, "E1234", ""},
		{IDPassport, "E12-345", CodeIDFormat},
		{"no_such_type", "123", CodeIDType},
		{IDPassport, " ", CodeRequired},
	}
	for _, tt := range tests {
		if _, got := CheckIDNumber(tt.typ, tt.in, testNow); got != tt.want {
			t.Errorf("CheckIDNumber(%s, %q) = %q, want %q", tt.typ, tt.in, got, tt.want)
		}
	}
}

func mustCheck(s string) byte {
	c, ok := ResidentIDCheckChar(s)
	if !ok {
		panic(s)
	}
	return c
}

func wrongCheck(s string) byte {
	if mustCheck(s) == '0' {
		return '1'
	}
	return '0'
}
