package material

import (
	"encoding/binary"
	"errors"
)

// The EXIF reader is ours, not github.com/dsoprea/go-exif: that library
// parses its YAML tag database on every call (about 4 ms a file), uses
// panics for control flow and stalled the fuzzer's workers. We need five
// tags of IFD0 and whether the GPS IFD holds a position; reading them from
// the TIFF structure is a bounded loop over at most two IFDs.

const (
	tagOrientation    = 0x0112
	tagXResolution    = 0x011A
	tagYResolution    = 0x011B
	tagResolutionUnit = 0x0128
	tagGPSIFD         = 0x8825

	tiffShort    = 3
	tiffLong     = 4
	tiffRational = 5
)

var errEXIF = errors.New("EXIF structure is damaged")

type tiffReader struct {
	b  []byte
	bo binary.ByteOrder
}

func (r tiffReader) u16(off int) (uint16, bool) {
	if off < 0 || off+2 > len(r.b) {
		return 0, false
	}
	return r.bo.Uint16(r.b[off:]), true
}

func (r tiffReader) u32(off int) (uint32, bool) {
	if off < 0 || off+4 > len(r.b) {
		return 0, false
	}
	return r.bo.Uint32(r.b[off:]), true
}

// entry is one IFD entry: its tag, type, count and the offset of its value
// (inline values point into the entry itself).
type entry struct {
	tag, typ uint16
	count    uint32
	valueOff int
}

// entries reads the IFD at off. At most 512 entries are read: real IFD0s
// have a few dozen.
func (r tiffReader) entries(off int) ([]entry, bool) {
	n, ok := r.u16(off)
	if !ok || n > 512 {
		return nil, false
	}
	es := make([]entry, 0, n)
	for i := 0; i < int(n); i++ {
		p := off + 2 + 12*i
		tag, ok1 := r.u16(p)
		typ, ok2 := r.u16(p + 2)
		cnt, ok3 := r.u32(p + 4)
		if !ok1 || !ok2 || !ok3 {
			return es, false
		}
		size := 0
		switch typ {
		case tiffShort:
			size = 2
		case tiffLong:
			size = 4
		case tiffRational:
			size = 8
		}
		vo := p + 8
		if size == 0 || int64(size)*int64(cnt) > 4 {
			o, _ := r.u32(p + 8)
			vo = int(o)
		}
		es = append(es, entry{tag, typ, cnt, vo})
	}
	return es, true
}

func (r tiffReader) short(e entry) (uint16, bool) {
	if e.typ != tiffShort || e.count < 1 {
		return 0, false
	}
	return r.u16(e.valueOff)
}

func (r tiffReader) rational(e entry) float64 {
	if e.typ != tiffRational || e.count < 1 {
		return 0
	}
	n, ok1 := r.u32(e.valueOff)
	d, ok2 := r.u32(e.valueOff + 4)
	if !ok1 || !ok2 || d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

// readEXIF takes resolution, orientation and GPS presence from the TIFF
// structure inside an APP1 Exif segment.
func readEXIF(tiff []byte, info *Info) {
	if len(tiff) < 8 {
		info.EXIFError = errEXIF.Error()
		return
	}
	var r tiffReader
	switch string(tiff[:4]) {
	case "II*\x00":
		r = tiffReader{tiff, binary.LittleEndian}
	case "MM\x00*":
		r = tiffReader{tiff, binary.BigEndian}
	default:
		info.EXIFError = errEXIF.Error()
		return
	}
	ifd0, _ := r.u32(4)
	es, ok := r.entries(int(ifd0))
	if !ok {
		info.EXIFError = errEXIF.Error()
	}
	var xr, yr float64
	unit := uint16(2) // TIFF default: inch
	for _, e := range es {
		switch e.tag {
		case tagOrientation:
			if v, ok := r.short(e); ok && v >= 1 && v <= 8 {
				info.Orientation = int(v)
			}
		case tagXResolution:
			xr = r.rational(e)
		case tagYResolution:
			yr = r.rational(e)
		case tagResolutionUnit:
			if v, ok := r.short(e); ok {
				unit = v
			}
		case tagGPSIFD:
			if off, ok := r.u32(e.valueOff); ok && e.typ == tiffLong {
				info.HasGPS = hasPosition(r, int(off))
			}
		}
	}
	if yr == 0 {
		yr = xr
	}
	if xr > 0 && xr < 1e6 && yr < 1e6 {
		switch unit {
		case 3:
			info.EXIF = &Density{X: xr * 2.54, Y: yr * 2.54, Unit: "cm"}
		case 1:
			info.EXIF = &Density{Unit: "none"}
		default:
			info.EXIF = &Density{X: xr, Y: yr, Unit: "inch"}
		}
	}
}

// hasPosition reports whether a GPS IFD holds any part of a position
// (latitude or longitude and their references, tags 1 to 4). Cameras with
// location turned off often write a GPS IFD with only a version tag.
func hasPosition(r tiffReader, off int) bool {
	es, _ := r.entries(off)
	for _, e := range es {
		if e.tag >= 1 && e.tag <= 4 {
			return true
		}
	}
	return false
}
