package material

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// The JPEG marker walk is written here rather than taken from a library:
// image/jpeg hides the segments, and we need exactly three things from them
// that no maintained package exposes together — the JFIF density, the SOF
// variant (baseline or progressive) and a lossless rewrite of the APPn
// segments for density and EXIF repairs.

const (
	mSOI   = 0xD8
	mEOI   = 0xD9
	mSOS   = 0xDA
	mAPP0  = 0xE0
	mAPP1  = 0xE1
	mAPP2  = 0xE2
	mAPP13 = 0xED
	mAPP14 = 0xEE
	mCOM   = 0xFE
)

// segment is one marker segment before the first SOS.
type segment struct {
	marker byte
	start  int // offset of the 0xFF
	data   []byte
}

// errNotJPEG is returned by walkSegments for data that does not start with SOI.
var errNotJPEG = errors.New("not a JPEG file")

// walkSegments returns the segments from SOI up to and including the first
// SOS header, and the offset where the entropy-coded data of that scan
// starts. It never reads past len(b) whatever the lengths claim.
func walkSegments(b []byte) ([]segment, int, error) {
	if len(b) < 4 || b[0] != 0xFF || b[1] != mSOI {
		return nil, 0, errNotJPEG
	}
	var segs []segment
	i := 2
	for {
		// Markers may be preceded by any number of 0xFF fill bytes.
		if i >= len(b) {
			return segs, 0, fmt.Errorf("file ends at byte %d before the image data", i)
		}
		if b[i] != 0xFF {
			return segs, 0, fmt.Errorf("expected a marker at byte %d, found 0x%02X", i, b[i])
		}
		start := i
		for i < len(b) && b[i] == 0xFF {
			i++
		}
		if i >= len(b) {
			return segs, 0, fmt.Errorf("file ends inside a marker at byte %d", start)
		}
		m := b[i]
		i++
		switch {
		case m == mEOI:
			return segs, 0, fmt.Errorf("end of image before any image data (byte %d)", start)
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7) || m == mSOI:
			continue // no length
		case m == 0x00:
			return segs, 0, fmt.Errorf("stray 0xFF00 at byte %d", start)
		}
		if i+2 > len(b) {
			return segs, 0, fmt.Errorf("file ends in the length of marker 0x%02X", m)
		}
		n := int(binary.BigEndian.Uint16(b[i:]))
		if n < 2 || i+n > len(b) {
			return segs, 0, fmt.Errorf("marker 0x%02X at byte %d claims %d bytes, past the end of the file", m, start, n)
		}
		segs = append(segs, segment{marker: m, start: start, data: b[i+2 : i+n]})
		i += n
		if m == mSOS {
			return segs, i, nil
		}
	}
}

// jfifDensity parses an APP0 JFIF payload. ok is false for other APP0s
// (JFXX thumbnails and the like).
func jfifDensity(p []byte) (units byte, x, y uint16, ok bool) {
	if len(p) < 12 || !bytes.Equal(p[:5], []byte("JFIF\x00")) {
		return 0, 0, 0, false
	}
	return p[7], binary.BigEndian.Uint16(p[8:]), binary.BigEndian.Uint16(p[10:]), true
}

// jfifSegment builds an APP0 JFIF 1.02 segment declaring dpi in both axes.
func jfifSegment(dpi int) []byte {
	if dpi > 0xFFFF {
		dpi = 0xFFFF
	}
	s := []byte{0xFF, mAPP0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 2, 1, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(s[12:], uint16(dpi))
	binary.BigEndian.PutUint16(s[14:], uint16(dpi))
	return s
}

var (
	exifPrefix = []byte("Exif\x00\x00")
	xmpPrefix  = []byte("http://ns.adobe.com/xap/1.0/\x00")
)

// rewriteMetadata returns the file with its density set to dpi in a fresh
// JFIF segment and every segment that may carry personal metadata dropped:
// EXIF and XMP (APP1, where GPS lives), Photoshop/IPTC (APP13) and comments.
// ICC profiles (APP2) and the Adobe colour-transform marker (APP14) stay:
// dropping them would change the colours. The image data is copied byte for
// byte, so nothing is lost.
func rewriteMetadata(b []byte, dpi int) ([]byte, error) {
	segs, scan, err := walkSegments(b)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(b)+18)
	out = append(out, 0xFF, mSOI)
	out = append(out, jfifSegment(dpi)...)
	for _, s := range segs {
		switch s.marker {
		case mAPP0, mAPP1, mAPP13, mCOM:
			continue
		}
		if s.marker >= 0xE3 && s.marker <= 0xEF && s.marker != mAPP14 {
			continue // other application data: none of it is needed to show the image
		}
		// Written canonically: fill bytes before a marker are dropped.
		out = append(out, 0xFF, s.marker, byte((len(s.data)+2)>>8), byte(len(s.data)+2))
		out = append(out, s.data...)
	}
	return append(out, b[scan:]...), nil
}

// imageEnd returns the offset just past a JPEG's end-of-image marker,
// walking its segments and skipping each scan's entropy-coded data (where
// 0xFF is followed by 0x00 for a data byte, by D0–D7 for a restart or by
// more 0xFF fill). ok is false when no EOI is found. Everything after the
// offset is not part of the image: a phone's second picture, or a ZIP
// appended to make a polyglot file that a viewer shows as a picture and an
// unzipper opens as an archive.
func imageEnd(b []byte) (end int, ok bool) {
	if len(b) < 4 || b[0] != 0xFF || b[1] != mSOI {
		return 0, false
	}
	i := 2
	inScan := false
	for i < len(b) {
		if inScan {
			j := bytes.IndexByte(b[i:], 0xFF)
			if j < 0 {
				return 0, false
			}
			i += j
		}
		if b[i] != 0xFF {
			i++ // a stray byte between segments: decoders skip it, so does this
			continue
		}
		for i < len(b) && b[i] == 0xFF {
			i++
		}
		if i >= len(b) {
			return 0, false
		}
		m := b[i]
		i++
		switch {
		case m == mEOI:
			return i, true
		case m == 0x00 || (m >= 0xD0 && m <= 0xD7) || m == 0x01:
			continue // a data byte, a restart: still in the scan
		case m == mSOI:
			continue
		}
		if i+2 > len(b) {
			return 0, false
		}
		n := int(binary.BigEndian.Uint16(b[i:]))
		if n < 2 || i+n > len(b) {
			return 0, false
		}
		i += n
		inScan = m == mSOS
	}
	return 0, false
}

// trailingBytes is how many bytes follow the image's EOI, not counting
// zero or 0xFF padding (some scanners pad a file to a block size; that
// hides nothing).
func trailingBytes(b []byte) int {
	end, ok := imageEnd(b)
	if !ok {
		return 0 // a file without an EOI is reported as damaged instead
	}
	for _, c := range b[end:] {
		if c != 0x00 && c != 0xFF {
			return len(b) - end
		}
	}
	return 0
}
