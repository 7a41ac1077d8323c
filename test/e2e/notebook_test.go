package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // RFC 6455 fixes SHA-1 for Sec-WebSocket-Accept
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kfgate/kfgate/kubeflow"
)

// The run's two notebooks: a JupyterLab, routed with Kubeflow's defaults (the path kept), and an
// RStudio, whose Notebook asks for the path rewritten to / and X-RStudio-Root-Path set, as
// Kubeflow's Jupyter web app makes it.
const (
	jupyterName = "jupyter"
	rstudioName = "rstudio"
)

var notebookGVR = schema.GroupVersionResource{Group: kubeflow.NotebookGroup, Version: "v1", Resource: "notebooks"}

// notebookCRD is the least of Kubeflow's Notebook CRD that the helper needs: the API server serves
// notebooks.kubeflow.org/v1, and their metadata can be listed and watched.
const notebookCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: notebooks.kubeflow.org
spec:
  group: kubeflow.org
  scope: Namespaced
  names: {kind: Notebook, listKind: NotebookList, plural: notebooks, singular: notebook}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

// installNotebookCRD installs the Notebook CRD (again, if an earlier run in this process did) and
// waits until the API server serves it, before kfgate serve starts: the helper then reads
// Notebooks at once instead of after its one-minute retry.
func (w *world) installNotebookCRD() {
	w.t.Helper()
	if _, err := envtest.InstallCRDs(kubeCfg, envtest.CRDInstallOptions{Paths: []string{w.write("notebook-crd.yaml", notebookCRD)},
		ErrorIfPathMissing: true, MaxTime: waitFor}); err != nil {
		w.t.Fatalf("installing the Notebook CRD: %v", err)
	}
}

// createNotebook creates a Notebook with annotations, then its Service as Kubeflow's notebook
// controller makes it (named after the Notebook, controlled by it, http-<name> on 80 → 8888), and
// an EndpointSlice pointing at up. The Notebook comes first, so that its Service's first route
// already follows its annotations.
func (w *world) createNotebook(name string, annotations map[string]string, up *upstream) {
	t := w.t
	t.Helper()
	ctx := context.Background()
	nb := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kubeflow.org/v1", "kind": "Notebook",
		"metadata": map[string]any{"name": name, "namespace": w.ns},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{
			map[string]any{"name": name, "image": "kubeflownotebookswg/jupyter-scipy"},
		}}}},
	}}
	nb.SetAnnotations(annotations)
	created, err := dynamic.NewForConfigOrDie(kubeCfg).Resource(notebookGVR).Namespace(w.ns).Create(ctx, nb, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating Notebook %s: %v", name, err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "kubeflow.org/v1", Kind: kubeflow.NotebookKind, Name: name, UID: created.GetUID(),
			Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
		}}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"statefulset": name}, Ports: []corev1.ServicePort{{
			Name: "http-" + name, Port: kubeflow.NotebookPort, TargetPort: intstr.FromInt32(8888), Protocol: corev1.ProtocolTCP,
		}}},
	}
	if _, err := w.cs.CoreV1().Services(w.ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the Service of Notebook %s: %v", name, err)
	}
	w.putSlice(w.ns, name, name+"-1", "http-"+name, up.port)
	t.Cleanup(func() {
		_ = w.cs.CoreV1().Services(w.ns).Delete(context.Background(), name, metav1.DeleteOptions{})
		_ = dynamic.NewForConfigOrDie(kubeCfg).Resource(notebookGVR).Namespace(w.ns).Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

// annotateNotebook merges annotations into a Notebook's (a nil value removes one).
func (w *world) annotateNotebook(t *testing.T, name string, annotations map[string]any) {
	t.Helper()
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": annotations}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dynamic.NewForConfigOrDie(kubeCfg).Resource(notebookGVR).Namespace(w.ns).Patch(context.Background(), name,
		types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("annotating Notebook %s: %v", name, err)
	}
}

// notebookPath is where Kubeflow serves a notebook of this run.
func (w *world) notebookPath(name string) string { return "/notebook/" + w.ns + "/" + name + "/" }

// kernelGreeting is what the JupyterLab page sends its kernel over the websocket.
const kernelGreeting = "hello from chromium"

// startNotebook stands in for a notebook server serving under prefix (Jupyter's NB_PREFIX; "/"
// for one reached through a rewrite, as RStudio is): prefix+"lab" is an HTML page naming the
// kubeflow-userid it received whose script opens a kernel's websocket and shows the echo;
// prefix+"api/kernels/<id>/channels" is a websocket echoing every text message as "echo: <message>";
// anything else is answered with what it received, as JSON, as the echo server does.
func startNotebook(t *testing.T, name, prefix string) *upstream {
	return serveUpstream(t, name, func(u *upstream) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e := u.record(r)
			rest, under := strings.CutPrefix(r.URL.Path, prefix)
			switch {
			case under && strings.HasPrefix(rest, "api/kernels/") && strings.HasSuffix(rest, "/channels"):
				serveEchoSocket(w, r)
			case under && rest == "lab":
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				_, _ = fmt.Fprintf(w, labPage, html.EscapeString(name), html.EscapeString(r.Header.Get("kubeflow-userid")), kernelGreeting)
			default:
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(e)
			}
		})
	})
}

// labPage is the JupyterLab stand-in's page: the server, the user it was served to, and the echo
// of its kernel's websocket (in #kernel), opened next to the page as JupyterLab opens it.
const labPage = `<!doctype html>
<html><head><title>JupyterLab stand-in</title></head><body>
<p id="server">notebook %s</p>
<p id="user">kubeflow-userid: %s</p>
<p id="kernel">connecting</p>
<script>
const ws = new WebSocket(location.href.replace(/^http/, "ws").replace(/lab([?#].*)?$/, "api/kernels/k1/channels"));
const kernel = document.getElementById("kernel");
ws.onopen = () => ws.send(%q);
ws.onmessage = (m) => { kernel.textContent = m.data; ws.close(); };
ws.onerror = () => { kernel.textContent = "websocket error"; };
</script></body></html>
`

// A minimal RFC 6455 WebSocket, both ends: the handshake, and unfragmented text, ping and close
// frames of at most 64 KiB, masked from the client (as it must be) and not from the server.

const (
	wsGUID  = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
	opText  = 0x1
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xA
)

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + wsGUID)) //nolint:gosec // RFC 6455 §4.2.2
	return base64.StdEncoding.EncodeToString(h[:])
}

// serveEchoSocket completes a websocket handshake and echoes text messages until the client closes.
func serveEchoSocket(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || !headerHasToken(r.Header, "Connection", "upgrade") ||
		r.Header.Get("Sec-WebSocket-Version") != "13" || key == "" {
		http.Error(w, "a kernel's channels are a websocket", http.StatusBadRequest)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(waitFor))
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		wsAccept(key) + "\r\n\r\n")
	if brw.Flush() != nil {
		return
	}
	for {
		op, payload, err := readFrame(brw.Reader, true)
		if err != nil {
			return
		}
		switch op {
		case opText:
			err = writeFrame(conn, opText, append([]byte("echo: "), payload...), false)
		case opPing:
			err = writeFrame(conn, opPong, payload, false)
		case opClose:
			_ = writeFrame(conn, opClose, payload, false)
			return
		}
		if err != nil {
			return
		}
	}
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// readFrame reads one unfragmented frame; masked says the peer must mask it (a client).
func readFrame(r *bufio.Reader, masked bool) (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	if h[0]&0x80 == 0 || h[0]&0x70 != 0 {
		return 0, nil, errors.New("websocket: a fragmented frame or reserved bits")
	}
	if (h[1]&0x80 != 0) != masked {
		return 0, nil, fmt.Errorf("websocket: frame masked %v, want %v", h[1]&0x80 != 0, masked)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		return 0, nil, errors.New("websocket: frame longer than 64 KiB")
	}
	var key [4]byte
	if masked {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return 0, nil, err
		}
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	if masked {
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return h[0] & 0x0f, payload, nil
}

// writeFrame writes one unfragmented frame, masked with a random key when mask is set (a client).
func writeFrame(w io.Writer, op byte, payload []byte, mask bool) error {
	if len(payload) > 0xffff {
		return errors.New("websocket: frame longer than 64 KiB")
	}
	frame := []byte{0x80 | op}
	var bit byte
	if mask {
		bit = 0x80
	}
	if len(payload) < 126 {
		frame = append(frame, bit|byte(len(payload)))
	} else {
		frame = append(frame, bit|126)
		frame = binary.BigEndian.AppendUint16(frame, uint16(len(payload)))
	}
	body := append([]byte(nil), payload...)
	if mask {
		var key [4]byte
		_, _ = rand.Read(key[:])
		frame = append(frame, key[:]...)
		for i := range body {
			body[i] ^= key[i%4]
		}
	}
	_, err := w.Write(append(frame, body...))
	return err
}

// wsConn is the client end of a websocket through the gateway.
type wsConn struct {
	conn net.Conn
	r    *bufio.Reader
}

// dialWebSocket sends a websocket handshake for path to the gateway, with the jar's cookies and
// headers. It returns the response, and the connection when the gateway switched protocols (101)
// and the accept key is right.
func (c *client) dialWebSocket(t *testing.T, path string, headers map[string]string) (*http.Response, *wsConn) {
	t.Helper()
	u, err := url.Parse(c.w.gateway + path)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	keyBytes := make([]byte, 16)
	_, _ = rand.Read(keyBytes)
	key := base64.StdEncoding.EncodeToString(keyBytes)
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Key", key)
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Origin", c.w.gateway)
	for _, ck := range c.c.Jar.Cookies(u) {
		req.AddCookie(ck)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		_ = conn.Close()
		t.Fatalf("the websocket handshake for %s: %v", path, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		_ = conn.Close()
		return resp, nil
	}
	t.Cleanup(func() { _ = conn.Close() })
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != wsAccept(key) {
		t.Fatalf("the websocket handshake for %s: Sec-WebSocket-Accept %q, want %q", path, got, wsAccept(key))
	}
	return resp, &wsConn{conn: conn, r: br}
}

// roundTrip sends a text message and returns the text message that comes back.
func (ws *wsConn) roundTrip(t *testing.T, msg string) string {
	t.Helper()
	if err := writeFrame(ws.conn, opText, []byte(msg), true); err != nil {
		t.Fatalf("sending over the websocket: %v", err)
	}
	op, payload, err := readFrame(ws.r, false)
	if err != nil || op != opText {
		t.Fatalf("reading the websocket: opcode %d, %v; want a text message", op, err)
	}
	return string(payload)
}

// close sends a close frame and waits for the server's.
func (ws *wsConn) close(t *testing.T) {
	t.Helper()
	if err := writeFrame(ws.conn, opClose, []byte{0x03, 0xe8}, true); err != nil { // 1000, normal closure
		t.Fatalf("closing the websocket: %v", err)
	}
	if op, _, err := readFrame(ws.r, false); err != nil || op != opClose {
		t.Errorf("closing the websocket: the server answered opcode %d, %v; want its close frame", op, err)
	}
}
