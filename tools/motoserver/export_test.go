package motoserver

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
