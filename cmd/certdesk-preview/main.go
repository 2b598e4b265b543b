// Command certdesk-preview draws the pages of a PDF for CertDesk's print
// preview, in its own process: PDFium (as WebAssembly, with its runtime)
// is about 10 MB of code and tens of MB of memory while it works, none of
// which the window should carry when it is not previewing (app/previewexec
// is the other side).
//
//	certdesk-preview [-dpi 60] [-cache DIR] < form.pdf > pages
//
// The output is each page as a PNG, preceded by its length as 4 bytes,
// big-endian. Errors go to standard error with exit status 1.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"image/png"
	"io"
	"os"
	"os/signal"

	"certdesk/app/pdfpreview"
)

// maxPDF bounds what is read from standard input.
const maxPDF = 64 << 20

func main() {
	dpi := flag.Int("dpi", 60, "resolution of the page images")
	cache := flag.String("cache", "", "directory that keeps PDFium's compiled code")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdin, os.Stdout, *dpi, *cache); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, in io.Reader, out io.Writer, dpi int, cache string) error {
	pdf, err := io.ReadAll(io.LimitReader(in, maxPDF+1))
	if err != nil {
		return fmt.Errorf("read PDF: %w", err)
	}
	if len(pdf) > maxPDF {
		return fmt.Errorf("PDF larger than %d MB", maxPDF>>20)
	}
	pages, err := pdfpreview.Pages(ctx, pdf, dpi, cache)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	var b bytes.Buffer
	for _, p := range pages {
		b.Reset()
		if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&b, p); err != nil {
			return fmt.Errorf("encode page: %w", err)
		}
		if err := binary.Write(w, binary.BigEndian, uint32(b.Len())); err != nil {
			return err
		}
		if _, err := w.Write(b.Bytes()); err != nil {
			return err
		}
	}
	return w.Flush()
}
