package envoystandin

import (
	"fmt"
	"io"
	"net/http"
	"sync"
)

// pipeUpgrade completes a proxied upgrade (a 101 from the upstream): the response goes out, then
// bytes flow both ways until either side closes. It returns the bytes sent downstream.
func (s *stream) pipeUpgrade(resp *response) int64 {
	hj, ok := s.w.(http.Hijacker)
	if !ok {
		s.e.fail("an upgrade over %s is not implemented", s.protocol)
		_ = resp.upgrade.Close()
		return 0
	}
	c, brw, err := hj.Hijack()
	if err != nil {
		_ = resp.upgrade.Close()
		return 0
	}
	stop := closeOnStop(s)
	defer stop()
	fmt.Fprintf(brw, "HTTP/1.1 %d %s\r\n", resp.status, http.StatusText(resp.status))
	for k, vs := range resp.header {
		for _, v := range vs {
			fmt.Fprintf(brw, "%s: %s\r\n", k, v)
		}
	}
	fmt.Fprint(brw, "\r\n")
	if err := brw.Flush(); err != nil {
		_ = c.Close()
		_ = resp.upgrade.Close()
		return 0
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(resp.upgrade, brw)
		_ = resp.upgrade.Close()
	}()
	n, _ := io.Copy(c, resp.upgrade)
	_ = c.Close()
	_ = resp.upgrade.Close()
	wg.Wait()
	return n
}

// closeOnStop closes the hijacked connection's upstream side when the stand-in closes, so that
// Close does not wait on a live upgrade.
func closeOnStop(s *stream) func() {
	done := make(chan struct{})
	go func() {
		select {
		case <-s.e.ctx.Done():
			_ = s.conn.Close()
		case <-done:
		}
	}()
	return func() { close(done) }
}
