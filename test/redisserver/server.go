package redisserver

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kfgate/kfgate/test/testproc"
)

const (
	// startAttempts bounds the retries when the free port picked was taken before redis-server
	// bound it (another test picking the same port in between).
	startAttempts = 5
	// readyTimeout bounds how long one start waits for PING to answer.
	readyTimeout = 10 * time.Second
	// stopTimeout is how long redis-server gets to exit on SIGTERM before SIGKILL.
	stopTimeout = 5 * time.Second
)

// Server is a running (or stopped) private redis-server.
type Server struct {
	// Addr is host:port of the server, stable across Restart.
	Addr string

	bin  string
	dir  string
	mu   sync.Mutex
	proc *process // nil when stopped
}

// process is one run of redis-server.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{}    // closed when the process has exited
	out    *testproc.Buffer // its stdout and stderr, for failure messages
}

// Start runs a private redis-server on 127.0.0.1 on a free port, waits until it answers PING and
// stops it when the test ends. It fails the test when redis-server is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is not installed (run make test-deps): %v", err)
	}
	s := &Server{bin: bin, dir: t.TempDir()}
	var errs []error
	for range startAttempts {
		port, err := testproc.FreePort()
		if err != nil {
			t.Fatalf("redisserver: picking a port: %v", err)
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err := s.start(); err != nil {
			errs = append(errs, err)
			continue
		}
		t.Cleanup(s.Stop)
		return s
	}
	t.Fatalf("redisserver: redis-server did not start in %d attempts: %v", startAttempts, errors.Join(errs...))
	return nil
}

// Restart stops the server if it runs and starts it again on the same port, with no data (the
// server never persists anything).
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	var err error
	// The port was just released by the same server; retry briefly in case the kernel or a
	// racing test holds it.
	for range startAttempts {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("redisserver: restarting on %s: %v", s.Addr, err)
}

// Stop stops the server and waits for it to exit; a client then gets connection refused. Safe to
// call more than once.
func (s *Server) Stop() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(sigterm)
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// Client returns a client for the server, closed when the test ends.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// start runs redis-server on s.Addr and waits for PING.
func (s *Server) start() error {
	_, port, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return err
	}
	// No persistence (--save "", --appendonly no) so Restart starts empty and nothing is written
	// outside the test's directory; protected mode and the loopback bind keep it private.
	cmd := exec.Command(s.bin, // #nosec G204 -- the binary found on PATH and fixed arguments
		"--port", port,
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--protected-mode", "yes",
		"--dir", s.dir,
		"--daemonize", "no",
		"--loglevel", "warning",
	)
	out := &testproc.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	setParentDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("running %s: %w", s.bin, err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{}), out: out}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	if err := waitReady(s.Addr, p); err != nil {
		_ = cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%w; redis-server output: %s", err, bytes.TrimSpace(out.Bytes()))
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	return nil
}

// waitReady polls PING until the server answers, exits (port taken) or readyTimeout passes. It
// speaks RESP over a plain connection: a go-redis client would back off between failed dials and
// log each one.
func waitReady(addr string, p *process) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		err := ping(addr)
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("redis-server on %s exited before answering PING", addr)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s did not answer PING within %v: %w", addr, readyTimeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ping sends one PING and expects +PONG.
func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	if err := conn.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}
