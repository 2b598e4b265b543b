package token

import (
	"errors"
	"testing"
)

func TestCheckNewPIN(t *testing.T) {
	cases := []struct {
		old, new string
		want     PINRule // "" passes
	}{
		{"123456", "246810", ""},
		{"123456", "Ab3!xyz9Ab3!xyz9", ""},
		{"123456", "12345", PINLength},
		{"123456", "12345678901234567", PINLength},
		{"123456", "000000", PINSame},
		{"123456", "aaaaaaaa", PINSame},
		{"123456", "123456", PINOld},
		{"123456", "24681 0", PINASCII},
		{"123456", "２４６８１０", PINLength}, // 18 bytes of full-width digits
		{"123456", "246８10", PINASCII},
	}
	for _, c := range cases {
		err := CheckNewPIN([]byte(c.old), []byte(c.new))
		var re *PINRuleError
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v, want accepted", c.new, err)
		case c.want != "" && (!errors.As(err, &re) || re.Rule != c.want || !errors.Is(err, ErrPINRule)):
			t.Errorf("%q: %v, want rule %s", c.new, err, c.want)
		}
	}
}
