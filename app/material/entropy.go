package material

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
)

// checkEntropy proves that a sequential (baseline or extended) Huffman JPEG
// decodes in full without decoding it: it walks every marker from SOI to
// EOI and reads every Huffman symbol of every block of every scan, but
// keeps no coefficient and computes no pixel. What makes a JPEG unreadable
// — a truncated scan, a bad Huffman code, a scan that runs into a marker, a
// missing or out-of-order restart marker, a missing end marker — is found
// here; what a decoder only turns into wrong pixels cannot be found by any
// decoder either.
//
// It is written here because no library exposes this: image/jpeg and
// libjpeg both reconstruct pixels (image/jpeg's Huffman reading alone takes
// about seven times as long as this, which moves 64 bits at a time and
// reads up to two symbols with their extra bits per table lookup), and the
// server checks every uploaded byte. It is deliberately stricter than image/jpeg (which
// resynchronises on damaged restart markers and skips some corrupt
// segments), so verifyJPEG asks image/jpeg about whatever this refuses.
// Progressive and arithmetic-coded files return errNotSequential.
func checkEntropy(b []byte) (err error) {
	// Fuzzing (FuzzCheckEntropy) calls check directly so that a panic is
	// found; here one would only make verifyJPEG ask image/jpeg instead.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("entropy check failed: %v", r)
		}
	}()
	c := checkers.Get().(*entropyChecker)
	defer checkers.Put(c)
	return c.check(b)
}

// checkers keeps checkers (140 KB of tables each) for reuse: allocating
// one per upload was a quarter of the cost of a small file, mostly in GC.
var checkers = sync.Pool{New: func() any { return new(entropyChecker) }}

var errNotSequential = errors.New("not a sequential Huffman JPEG")

// lutBits is the fast-lookup width: most codes of real files are shorter.
const lutBits = 9

// huffTable is one DHT table in the two forms the checker reads it by.
type huffTable struct {
	defined bool
	// fast (DC tables only) is indexed by the next lutBits bits: 0 for a
	// code longer than lutBits (or no code), else symbol<<8 | bits to skip,
	// the code's own length plus the extra bits its symbol announces.
	fast [1 << lutBits]uint16
	// maxcode[l] is the largest code of length l (-1 for none) and
	// valptr[l] turns a code of length l into an index into vals.
	maxcode [17]int32
	valptr  [17]int32
	vals    [256]byte
	// pair (AC tables only) is indexed by the next pairBits bits and
	// holds up to two symbols whose codes both lie inside those bits, so
	// that a typical block needs half as many dependent lookups; see
	// pairEntry for the layout, 0 when the first code is longer.
	pair [1 << pairBits]uint32
}

const pairBits = 12

// A pair entry: bits 0-5 skip for the first symbol (code + extra bits),
// 6-11 skip for both symbols (the first's again when there is no second),
// 12-18 how far the first symbol moves the coefficient index and 20-26 how
// far the second does (0 when there is none). An end-of-block moves it to
// 64. So the loop reads one or two symbols with the same instructions and
// branches only where a block ends.
const eobAdvance = 64

// acStep is what one AC symbol does: bits to skip, how far it moves the
// coefficient index, and whether it ends the block.
func acStep(sym byte, l int) (skip, adv int, eob bool) {
	switch {
	case sym == 0xF0:
		return l, 16, false
	case sym&15 == 0:
		return l, eobAdvance, true
	}
	return l + int(sym&15), int(sym>>4) + 1, false
}

// buildPairs fills pair from one, which maps every pairBits-bit value to
// the symbol<<8 | length of the code it starts with (0 for none).
func (t *huffTable) buildPairs(one *[1 << pairBits]uint16) {
	for x := range uint32(1 << pairBits) {
		o := one[x]
		if o == 0 {
			continue
		}
		skip1, adv1, eob1 := acStep(byte(o>>8), int(o&31))
		e := uint32(skip1) | uint32(skip1)<<6 | uint32(adv1)<<12
		if rest := pairBits - skip1; rest > 0 && !eob1 {
			// The second code starts skip1 bits in; it counts if it ends
			// inside the pairBits bits.
			if o2 := one[x<<skip1&(1<<pairBits-1)]; o2 != 0 && int(o2&31) <= rest {
				skip2, adv2, _ := acStep(byte(o2>>8), int(o2&31))
				e = uint32(skip1) | uint32(skip1+skip2)<<6 | uint32(adv1)<<12 | uint32(adv2)<<20
			}
		}
		t.pair[x] = e
	}
}

type frameComp struct {
	id, h, v, tq int
}

type entropyChecker struct {
	dc, ac  [4]huffTable
	quant   [4]bool
	comps   []frameComp
	hmax    int
	vmax    int
	width   int
	height  int
	ri      int
	haveSOF bool
}

func (c *entropyChecker) check(b []byte) error {
	c.reset()
	if len(b) < 4 || b[0] != 0xFF || b[1] != mSOI {
		return errNotJPEG
	}
	i := 2
	scans := 0
	for {
		// Between segments, image/jpeg and libjpeg skip stray bytes; so
		// does this, to a 0xFF that starts a marker.
		for i < len(b) && b[i] != 0xFF {
			i++
		}
		for i < len(b) && b[i] == 0xFF {
			i++
		}
		if i >= len(b) {
			return errors.New("file ends without an end-of-image marker")
		}
		m := b[i]
		i++
		switch {
		case m == mEOI:
			if scans == 0 {
				return errors.New("no image data")
			}
			return nil
		case m == 0x00 || m == 0x01 || m == mSOI || (m >= 0xD0 && m <= 0xD7):
			continue // no length
		}
		if i+2 > len(b) {
			return fmt.Errorf("file ends in the length of marker 0x%02X", m)
		}
		n := int(binary.BigEndian.Uint16(b[i:]))
		if n < 2 || i+n > len(b) {
			return fmt.Errorf("marker 0x%02X claims %d bytes, past the end of the file", m, n)
		}
		seg := b[i+2 : i+n]
		i += n
		var err error
		switch m {
		case 0xC0, 0xC1:
			err = c.readSOF(seg)
		case 0xC4:
			err = c.readDHT(seg)
		case 0xDB:
			err = c.readDQT(seg)
		case 0xDD:
			if len(seg) != 2 {
				return errors.New("bad restart interval segment")
			}
			c.ri = int(binary.BigEndian.Uint16(seg))
		case mSOS:
			i, err = c.scan(b, i, seg)
			scans++
		default:
			if isSOF(m) || m == 0xCC {
				return errNotSequential
			}
		}
		if err != nil {
			return err
		}
	}
}

// reset forgets the previous file; build overwrites a table in full when
// it is defined again.
func (c *entropyChecker) reset() {
	for i := range c.dc {
		c.dc[i].defined, c.ac[i].defined = false, false
	}
	c.quant = [4]bool{}
	c.comps = c.comps[:0]
	c.hmax, c.vmax, c.width, c.height, c.ri, c.haveSOF = 0, 0, 0, 0, 0, false
}

func (c *entropyChecker) readSOF(s []byte) error {
	if c.haveSOF {
		return errors.New("second frame header")
	}
	if len(s) < 6 || s[0] != 8 {
		return errNotSequential
	}
	c.height = int(binary.BigEndian.Uint16(s[1:]))
	c.width = int(binary.BigEndian.Uint16(s[3:]))
	nf := int(s[5])
	if c.width == 0 || c.height == 0 || nf == 0 || len(s) != 6+3*nf {
		return errors.New("bad frame header")
	}
	for k := 0; k < nf; k++ {
		p := s[6+3*k:]
		fc := frameComp{id: int(p[0]), h: int(p[1] >> 4), v: int(p[1] & 15), tq: int(p[2])}
		if fc.h < 1 || fc.h > 4 || fc.v < 1 || fc.v > 4 || fc.tq > 3 {
			return errors.New("bad frame component")
		}
		c.hmax, c.vmax = max(c.hmax, fc.h), max(c.vmax, fc.v)
		c.comps = append(c.comps, fc)
	}
	c.haveSOF = true
	return nil
}

func (c *entropyChecker) readDQT(s []byte) error {
	for len(s) > 0 {
		pq, tq := s[0]>>4, int(s[0]&15)
		n := 65
		if pq == 1 {
			n = 129
		}
		if pq > 1 || tq > 3 || len(s) < n {
			return errors.New("bad quantisation table")
		}
		c.quant[tq] = true
		s = s[n:]
	}
	return nil
}

func (c *entropyChecker) readDHT(s []byte) error {
	for len(s) > 0 {
		if len(s) < 17 {
			return errors.New("bad Huffman table")
		}
		tc, th := s[0]>>4, int(s[0]&15)
		if tc > 1 || th > 3 {
			return errors.New("bad Huffman table class or number")
		}
		total := 0
		for _, k := range s[1:17] {
			total += int(k)
		}
		if total == 0 || total > 256 || len(s) < 17+total {
			return errors.New("bad Huffman table size")
		}
		t := &c.dc[th]
		if tc == 1 {
			t = &c.ac[th]
		}
		if err := t.build(s[1:17], s[17:17+total], tc == 0); err != nil {
			return err
		}

		s = s[17+total:]
	}
	return nil
}

func (t *huffTable) build(counts, vals []byte, dc bool) error {
	*t = huffTable{defined: true}
	copy(t.vals[:], vals)
	var one [1 << pairBits]uint16
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(counts[l-1])
		t.maxcode[l] = -1
		// A code of all ones is reserved, so the codes of each length
		// must leave room for it.
		if code+n >= 1<<l {
			return errors.New("bad Huffman table (codes overflow)")
		}
		if n > 0 {
			t.valptr[l] = k - code
			for j := int32(0); j < n; j++ {
				sym := vals[k+j]
				extra := int(sym & 15)
				if dc {
					if sym > 15 {
						return errors.New("bad DC Huffman symbol")
					}
					extra = int(sym)
				}
				if dc && l <= lutBits {
					first := int(code+j) << (lutBits - l)
					e := uint16(sym)<<8 | uint16(l+extra)
					for f := range 1 << (lutBits - l) {
						t.fast[first+f] = e
					}
				}
				if !dc && l <= pairBits { // AC: read through pair
					first := int(code+j) << (pairBits - l)
					for f := range 1 << (pairBits - l) {
						one[first+f] = uint16(sym)<<8 | uint16(l)
					}
				}
			}
			code += n
			k += n
			t.maxcode[l] = code - 1
		}
		code <<= 1
	}
	if !dc {
		t.buildPairs(&one)
	}
	return nil
}

// slow decodes a code longer than lutBits from the top of acc, returning
// the symbol and the bits to skip (0 when no code matches).
func (t *huffTable) slow(acc uint64, dc bool) (sym byte, skip int) {
	for l := lutBits + 1; l <= 16; l++ {
		code := int32(acc >> (64 - l))
		if code <= t.maxcode[l] {
			sym = t.vals[byte(t.valptr[l]+code)]
			if dc {
				return sym, l + int(sym)
			}
			return sym, l + int(sym&15)
		}
	}
	return 0, 0
}

// scan checks one scan whose header is s and whose data starts at b[i],
// returning the offset just past its data.
func (c *entropyChecker) scan(b []byte, i int, s []byte) (int, error) {
	if !c.haveSOF {
		return i, errors.New("image data before the frame header")
	}
	if len(s) < 1 {
		return i, errors.New("bad scan header")
	}
	ns := int(s[0])
	if ns < 1 || ns > 4 || len(s) != 4+2*ns {
		return i, errors.New("bad scan header")
	}
	if ss, se, a := s[1+2*ns], s[2+2*ns], s[3+2*ns]; ss != 0 || se != 63 || a != 0 {
		return i, errNotSequential
	}
	type blockTables struct{ dc, ac *huffTable }
	var mcu []blockTables
	var mcus int
	for k := 0; k < ns; k++ {
		id, td, ta := int(s[1+2*k]), int(s[2+2*k]>>4), int(s[2+2*k]&15)
		ci := -1
		for j, fc := range c.comps {
			if fc.id == id {
				ci = j
			}
		}
		if ci < 0 || td > 3 || ta > 3 || !c.dc[td].defined || !c.ac[ta].defined {
			return i, errors.New("scan names an undefined component or Huffman table")
		}
		fc := c.comps[ci]
		if !c.quant[fc.tq] {
			return i, errors.New("scan before its quantisation table")
		}
		bt := blockTables{&c.dc[td], &c.ac[ta]}
		if ns == 1 {
			// Not interleaved: one block per MCU over the component's own size.
			w := (ceilDiv(c.width*fc.h, c.hmax) + 7) / 8
			h := (ceilDiv(c.height*fc.v, c.vmax) + 7) / 8
			mcus = w * h
			mcu = append(mcu, bt)
			break
		}
		for range fc.h * fc.v {
			mcu = append(mcu, bt)
		}
		mcus = ceilDiv(c.width, 8*c.hmax) * ceilDiv(c.height, 8*c.vmax)
	}

	var (
		acc uint64 // unread bits, first bit at the top
		n   int    // real bits in acc; below zero once padding was read
		hit bool   // stopped at a marker or the end: acc is padded with zeros
		pos = i
		rst = 0
	)
	for m := 0; m < mcus; m++ {
		if c.ri > 0 && m > 0 && m%c.ri == 0 {
			// The interval's data must end here, then RSTn in turn.
			if n < 0 || n >= 8 {
				return pos, fmt.Errorf("restart interval %d has the wrong length", rst)
			}
			for pos < len(b) && b[pos] == 0xFF && pos+1 < len(b) && b[pos+1] == 0xFF {
				pos++
			}
			if pos+1 >= len(b) || b[pos] != 0xFF || b[pos+1] != 0xD0+byte(rst) {
				return pos, fmt.Errorf("restart marker %d missing", rst)
			}
			pos += 2
			rst = (rst + 1) & 7
			acc, n, hit = 0, 0, false
		}
		for _, bt := range mcu {
			// DC: one symbol, its size is the count of extra bits.
			if n < 32 && !hit {
				acc, n, pos, hit = refill(b, acc, n, pos)
			}
			e := bt.dc.fast[acc>>(64-lutBits)]
			skip := int(e & 63)
			if e == 0 {
				if _, skip = bt.dc.slow(acc, true); skip == 0 {
					return pos, errors.New("bad Huffman code")
				}
			}
			acc <<= skip
			n -= skip
			// AC: run/size symbols until end-of-block or 63 coefficients,
			// two at a time where both codes fit the lookup.
			ac := bt.ac
			for k := 1; ; {
				if n < 32 && !hit {
					if v, ok := next8(b, pos); ok {
						k := (64 - n) >> 3
						acc |= v >> (64 - 8*k) << (64 - n - 8*k)
						n += 8 * k
						pos += k
					} else {
						acc, n, pos, hit = refill(b, acc, n, pos)
					}
				}
				e := ac.pair[acc>>(64-pairBits)]
				if e == 0 {
					sym, skip := ac.slow(acc, false)
					if skip == 0 {
						return pos, errors.New("bad Huffman code")
					}
					acc <<= skip
					n -= skip
					_, adv, _ := acStep(sym, 0)
					if k += adv; k >= 64 {
						break
					}
					continue
				}
				if k += int(e >> 12 & 127); k >= 64 {
					// The block ended with the first symbol; a second
					// one would be the next block's.
					skip := int(e & 63)
					acc <<= skip
					n -= skip
					break
				}
				skip := int(e >> 6 & 63)
				acc <<= skip
				n -= skip
				if k += int(e >> 20 & 127); k >= 64 {
					break
				}
			}
		}
		if n < 0 {
			return pos, errors.New("image data ends early")
		}
	}
	return pos, nil
}

// refill tops acc up from b[pos:], undoing 0xFF00 stuffing, and reports
// hit when it stopped at a marker or the end of the file (what follows is
// then read as zeros).
func refill(b []byte, acc uint64, n, pos int) (uint64, int, int, bool) {
	if v, ok := next8(b, pos); ok {
		// Take as many whole bytes as fit.
		k := (64 - n) >> 3
		acc |= v >> (64 - 8*k) << (64 - n - 8*k)
		return acc, n + 8*k, pos + k, false
	}
	for n <= 56 {
		if pos >= len(b) {
			return acc, n, pos, true
		}
		x := b[pos]
		if x == 0xFF {
			if pos+1 >= len(b) || b[pos+1] != 0 {
				return acc, n, pos, true
			}
			pos++
		}
		pos++
		acc |= uint64(x) << (56 - n)
		n += 8
	}
	return acc, n, pos, false
}

// next8 returns the eight bytes at b[pos:] when none of them is 0xFF, the
// common case in which they are all image data (it is small enough to be
// inlined into the decoding loop).
func next8(b []byte, pos int) (uint64, bool) {
	if pos+8 > len(b) || pos < 0 {
		return 0, false
	}
	v := binary.BigEndian.Uint64(b[pos:])
	y := ^v
	return v, (y-0x0101010101010101)&^y&0x8080808080808080 == 0
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
