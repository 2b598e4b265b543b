package apply

import "testing"

func TestCapitals(t *testing.T) {
	for _, tc := range []struct {
		fen  int64
		want string
	}{
		{0, "零元整"},
		{5, "伍分"},
		{50, "伍角整"},
		{15, "壹角伍分"},
		{1000, "壹拾元整"},
		{10010, "壹佰元壹角整"},
		{100000001, "壹佰万元零壹分"},
		{10000, "壹佰元整"},
		{50000, "伍佰元整"},
		{100100, "壹仟零壹元整"},
		{1001000, "壹万零壹拾元整"},
		{10000000, "壹拾万元整"},
		{100010000, "壹佰万零壹佰元整"},
		{10000000000, "壹亿元整"},
		{10001000000, "壹亿零壹万元整"},
		{10700053, "壹拾万柒仟元伍角叁分"},
		{168032, "壹仟陆佰捌拾元叁角贰分"},
		{10100000000, "壹亿零壹佰万元整"},
		{101000000000, "壹拾亿壹仟万元整"}, // 亿位 zero before 仟万: no 零, as for 万位
	} {
		got, err := Capitals(tc.fen)
		if err != nil || got != tc.want {
			t.Errorf("%d fen: %q (%v), want %q", tc.fen, got, err, tc.want)
		}
	}
	if _, err := Capitals(-1); err == nil {
		t.Error("a negative amount is written")
	}
}

func TestParseYuan(t *testing.T) {
	for in, want := range map[string]int64{"300": 30000, "300.5": 30050, "300.50": 30050, "0.01": 1, "1000000.01": 100000001} {
		if got, err := ParseYuan(in); err != nil || got != want {
			t.Errorf("%q: %d %v", in, got, err)
		}
	}
	for _, bad := range []string{"", ".5", "1.", "1.234", "-1", "1e3", "1,000", " 1"} {
		if _, err := ParseYuan(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
