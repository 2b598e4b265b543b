//go:build !linux

package pgtest

import "os/exec"

// setCredential: the throwaway cluster is only started on Linux test machines.
func setCredential(cmd *exec.Cmd, uid, gid uint32) {}
