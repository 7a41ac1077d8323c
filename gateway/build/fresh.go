package build

// Fresh returns a new Engine holding what e holds, texts with their decoded (or last good) documents
// and diagnostics included, but none of its resolution and translation state: its next Result says
// exactly what e's would, from state allocated afresh. After a large scale-down this gives memory
// back: Go neither moves objects nor shrinks maps, so e's state stays spread over memory sized for
// the peak.
func (e *Engine) Fresh() *Engine {
	f := NewEngine(e.opts)
	f.fileDiags = e.fileDiags
	for id, t := range e.texts {
		nt := *t
		f.texts[id] = &nt
		f.count(&nt, 1)
		f.state.Replace(id.String(), nt.docs)
	}
	for _, sl := range e.slices {
		f.SetEndpointSlice(sl)
	}
	for _, svc := range e.services {
		f.SetService(svc)
	}
	f.state.SetSecrets(e.state.Secrets())
	f.state.Inherit(e.state)
	f.changed = true
	return f
}
