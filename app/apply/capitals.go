package apply

import (
	"fmt"
	"strings"
)

var (
	capDigits = []string{"零", "壹", "贰", "叁", "肆", "伍", "陆", "柒", "捌", "玖"}
	capUnits  = []string{"仟", "佰", "拾", ""}
	capGroups = []string{"", "万", "亿", "万亿"}
)

// Capitals writes an amount in fen in Chinese financial capitals (大写金额),
// as invoices and receipts print it: 10000 → 壹佰元整, 5 → 伍分,
// 100000001 → 壹佰万元零壹分. The rules are those of the Ministry of
// Finance's 会计基础工作规范 (art. 52): one 零 for a run of zeros inside the
// amount; 零 between 元 and 分 when 角 is zero; 整 after 元 or 角. Written by
// hand: it is twenty lines and no maintained Go module does exactly this.
func Capitals(fen int64) (string, error) {
	if fen < 0 || fen >= 1e18 {
		return "", fmt.Errorf("amount %d fen out of range", fen)
	}
	if fen == 0 {
		return "零元整", nil
	}
	yuan, jiao, f := fen/100, fen/10%10, fen%10
	var b strings.Builder
	if yuan > 0 {
		b.WriteString(capInt(yuan))
		b.WriteString("元")
	}
	switch {
	case jiao == 0 && f == 0:
		b.WriteString("整")
	case jiao > 0:
		b.WriteString(capDigits[jiao] + "角")
		if f == 0 {
			b.WriteString("整")
		} else {
			b.WriteString(capDigits[f] + "分")
		}
	default: // 角 zero, 分 not
		if yuan > 0 {
			b.WriteString("零")
		}
		b.WriteString(capDigits[f] + "分")
	}
	return b.String(), nil
}

// capInt writes a positive integer in groups of four digits (万, 亿).
func capInt(n int64) string {
	var groups []int64 // lowest first
	for ; n > 0; n /= 10000 {
		groups = append(groups, n%10000)
	}
	var b strings.Builder
	zero := false // a zero group or leading zeros since the last digit written
	for i := len(groups) - 1; i >= 0; i-- {
		g := groups[i]
		if g == 0 {
			zero = true
			continue
		}
		if i < len(groups)-1 && (zero || g < 1000) {
			b.WriteString("零")
		}
		digits := [4]int64{g / 1000, g / 100 % 10, g / 10 % 10, g % 10}
		pending, started := false, false
		for j, d := range digits {
			if d == 0 {
				pending = started
				continue
			}
			if pending {
				b.WriteString("零")
			}
			b.WriteString(capDigits[d] + capUnits[j])
			pending, started = false, true
		}
		b.WriteString(capGroups[i])
		zero = false
	}
	return b.String()
}
