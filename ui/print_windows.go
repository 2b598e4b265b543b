package ui

import (
	"golang.org/x/sys/windows"
)

// printFile hands the PDF to the shell's print verb: the default PDF
// program's print dialog (or its print-to-default-printer, as that program
// chooses). Without a program that registers "print", it is opened
// instead, whose window has a print button; without any, the error says
// where the file is.
func printFile(path string) error {
	verb, _ := windows.UTF16PtrFromString("print")
	file, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return err
	}
	if windows.ShellExecute(0, verb, file, nil, nil, windows.SW_SHOWNORMAL) == nil {
		return nil
	}
	return openFile(path)
}
