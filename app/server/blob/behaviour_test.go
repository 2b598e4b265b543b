package blob_test

import (
	"testing"

	"certdesk/app/server/blob"
	"certdesk/app/server/blob/blobtest"
)

func TestBehaviour(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Blobs {
		s, err := blob.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
