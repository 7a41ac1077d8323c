package install

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case
	args string
}

// stage is one FROM and what follows it.
type stage struct {
	image, name string
	body        []instruction
}

// parseDockerfile splits a Dockerfile into stages. It knows comments, blank lines and backslash
// continuations: enough for a file this repository writes (there is no Docker engine here to build
// it).
func parseDockerfile(t *testing.T, text string) []stage {
	t.Helper()
	var stages []stage
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			for len(f) > 0 && strings.HasPrefix(f[0], "--") {
				f = f[1:]
			}
			st := stage{}
			if len(f) > 0 {
				st.image = f[0]
			}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			stages = append(stages, st)
			return
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Errorf("Dockerfile: %s before the first FROM", in.cmd)
			}
			return
		}
		stages[len(stages)-1].body = append(stages[len(stages)-1].body, in)
	}
	for _, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "#") && cur.Len() == 0 {
			continue
		}
		if body, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	flush()
	return stages
}

func (s stage) all(cmd string) []string {
	var out []string
	for _, in := range s.body {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

// TestDockerfile: a multi-stage build of a static kfgate binary (CGO off, with the Go release
// go.mod names), copied into a distroless non-root image that runs it as its entrypoint, as the
// non-root user; and a .dockerignore that keeps none of the sources the binary needs out.
func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	stages := parseDockerfile(t, string(raw))
	if len(stages) < 2 {
		t.Fatalf("%d stages: want a build stage and a runtime stage", len(stages))
	}
	final := stages[len(stages)-1]
	if !regexp.MustCompile(`^gcr\.io/distroless/static(-debian\d+)?:(\S*-)?nonroot(@sha256:[0-9a-f]{64})?$`).MatchString(final.image) {
		t.Errorf("the final stage is FROM %s: want gcr.io/distroless/static...:nonroot", final.image)
	}
	users := final.all("USER")
	if len(users) == 0 || !regexp.MustCompile(`^(nonroot|65532)(:(nonroot|65532))?$`).MatchString(users[len(users)-1]) {
		t.Errorf("the final stage runs as %q: want USER nonroot (65532)", users)
	}
	if len(final.all("RUN")) > 0 {
		t.Error("the final stage runs commands: distroless has no shell")
	}

	var build *stage
	var binary string
	goBuild := regexp.MustCompile(`\bgo build\b.*\s-o\s+(\S+)\s+\./cmd/kfgate\b`)
	for i := range stages[:len(stages)-1] {
		for _, run := range stages[i].all("RUN") {
			if m := goBuild.FindStringSubmatch(run); m != nil {
				build, binary = &stages[i], m[1]
				if !strings.Contains(run, "CGO_ENABLED=0") {
					t.Errorf("the go build runs with cgo: %s", run)
				}
			}
		}
	}
	if build == nil {
		t.Fatal("no stage runs `go build -o BINARY ./cmd/kfgate`")
	}
	if want := "golang:" + goRelease(t); !strings.HasPrefix(build.image, want) {
		t.Errorf("the build stage is FROM %s: want %s, go.mod's release", build.image, want)
	}
	var installed string
	for _, c := range final.all("COPY") {
		f := strings.Fields(c)
		if len(f) == 3 && f[0] == "--from="+build.name && f[1] == binary {
			installed = f[2]
		}
	}
	if installed == "" {
		t.Fatalf("the final stage does not COPY --from=%s %s", build.name, binary)
	}
	entry := final.all("ENTRYPOINT")
	var argv []string
	if len(entry) != 1 || json.Unmarshal([]byte(entry[0]), &argv) != nil || len(argv) != 1 || argv[0] != installed {
		t.Errorf("ENTRYPOINT %q: want [%q] (exec form: every kfgate command is an argument)", entry, installed)
	}
	checkDockerignore(t)
}

// goRelease is go.mod's go directive without the patch level (1.26.0 → 1.26).
func goRelease(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(raw)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	return string(m[1])
}

// checkDockerignore: no pattern of .dockerignore covers go.mod, go.sum or a package cmd/kfgate is
// built from.
func checkDockerignore(t *testing.T) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	cmd := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.Dir}}{{end}}", "./cmd/kfgate") // #nosec G204 -- the go tool
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	needed := []string{"go.mod", "go.sum"}
	for _, dir := range strings.Fields(string(out)) {
		if rel, err := filepath.Rel(root, dir); err == nil && !strings.HasPrefix(rel, "..") {
			needed = append(needed, filepath.ToSlash(rel)+"/x.go")
		}
	}
	for _, line := range strings.Split(string(raw), "\n") {
		pattern := strings.TrimSpace(line)
		if pattern == "" || strings.HasPrefix(pattern, "#") || strings.HasPrefix(pattern, "!") {
			continue
		}
		for _, p := range needed {
			if ignored(pattern, p) {
				t.Errorf(".dockerignore %q leaves %s out of the build context", pattern, filepath.Dir(p))
			}
		}
	}
}

// ignored reports whether a .dockerignore pattern (filepath.Match syntax, matching a path or any
// of its parent directories) excludes path.
func ignored(pattern, path string) bool {
	pattern = strings.Trim(filepath.ToSlash(pattern), "/")
	for p := path; p != "." && p != ""; p = filepath.ToSlash(filepath.Dir(p)) {
		if ok, _ := filepath.Match(pattern, p); ok {
			return true
		}
	}
	return false
}
