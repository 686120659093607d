package motoserver

import "io"

// StartSingleWriteProxy is StartAtomicProxy carrying transactions out as
// single writes, as it does in front of plain moto.
func StartSingleWriteProxy(target string) (*AtomicProxy, error) {
	p, err := StartAtomicProxy(target)
	if p != nil {
		p.native = false
	}
	return p, err
}

// Native reports whether p hands transactions to moto whole.
func (p *AtomicProxy) Native() bool { return p.native }

// LauncherScript is launcher.py as Start writes it out.
var LauncherScript = launcherScript

// NewLauncherNotes is the filter Start puts on moto_server's output.
func NewLauncherNotes(w io.Writer) io.Writer { return &launcherNotes{w: w} }
