// Package cliargs parses command lines the way support staff and CA
// operators type them: flags before, between or after the positional
// arguments (the standard flag package stops at the first positional).
package cliargs

import "flag"

// Parse parses args with fs and returns the positional arguments; "--"
// ends flag parsing.
func Parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
