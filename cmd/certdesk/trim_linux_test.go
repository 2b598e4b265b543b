//go:build linux && cgo

package main

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"certdesk/assets"
)

// TestDropFilePages: dropping the embedded font's pages loses nothing —
// they are read again from the executable — and memory that is not the
// executable's is refused rather than zeroed.
func TestDropFilePages(t *testing.T) {
	before := sha256.Sum256(assets.CJKFont)
	rssBefore := rssKB()
	if err := dropFilePages(assets.CJKFont); err != nil {
		t.Fatal(err)
	}
	rssAfter := rssKB()
	if after := sha256.Sum256(assets.CJKFont); after != before {
		t.Fatal("the font changed after its pages were dropped")
	}
	t.Logf("RSS %d kB -> %d kB around the drop", rssBefore, rssAfter)
	heap := bytes.Repeat([]byte{1}, 1<<20)
	if err := dropFilePages(heap); err == nil {
		t.Fatal("dropped pages of the Go heap")
	}
	if heap[len(heap)/2] != 1 {
		t.Fatal("heap memory was zeroed")
	}
}
