package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/chromedp/chromedp"

	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/kubeflow"
	"github.com/kfgate/kfgate/test/oidcprovider"
)

const instances = `[[1, 2, 3], [0.5, 0.25]]`

var wantPredictions = []float64{6, 0.75}

// TestE2E runs the scenarios in order over one installation: each builds on the state the ones
// before left (the session, the token, the endpoints).
func TestE2E(t *testing.T) {
	w := startWorld(t)
	user := oidcprovider.DefaultUser
	w.waitServed()
	browser := startChromium(t)
	session := w.client()
	var token string

	t.Run("1-browser-login", func(t *testing.T) {
		if browser == nil {
			session.login(t)
		} else {
			browser.do(t, "logging in with Chromium",
				chromedp.Navigate(w.gateway+"/"),
				until(fmt.Sprintf(`location.href.startsWith(%q) && document.querySelector('#login input[name="username"]') !== null`, w.idp.Issuer+"/")),
				chromedp.SendKeys(chromedp.CSS(`#login input[name="username"]`), user.Email),
				chromedp.SendKeys(chromedp.CSS(`#login input[name="password"]`), user.Password),
				chromedp.Submit(chromedp.CSS(`#login`)),
				until(fmt.Sprintf(`location.href === %q && document.readyState === "complete" && document.body.innerText.includes("kubeflow-userid")`, w.gateway+"/")),
			)
			browser.screenshot(t, "landing")
			session.setCookies(browser.cookies(t, w.gateway+"/"))
		}
		if e := session.echo(t, http.MethodGet, "/", map[string]string{"Accept": acceptHTML}); e.Headers["kubeflow-userid"] != user.Email {
			t.Fatalf("with the session, the echo upstream saw kubeflow-userid %q, want %s", e.Headers["kubeflow-userid"], user.Email)
		}
		landed := slices.IndexFunc(w.echo.requests(), func(e echoed) bool {
			return e.Path == "/" && e.Headers["kubeflow-userid"] == user.Email
		})
		if landed < 0 {
			t.Fatalf("the echo upstream never saw / as %s: %+v", user.Email, w.echo.requests())
		}
	})

	t.Run("2-session-predicts", func(t *testing.T) {
		n := len(w.tf.requests())
		p, why := session.predict(t, "/models/mnist/", nil, instances)
		if !slices.Equal(p.Predictions, wantPredictions) {
			t.Fatalf("prediction %v (%s), want %v", p.Predictions, why, wantPredictions)
		}
		got := w.tf.requests()[n:]
		if len(got) != 1 || got[0].Method != http.MethodPost || got[0].Path != "/v1/models/mnist:predict" ||
			got[0].Headers["kubeflow-userid"] != user.Email {
			t.Fatalf("TF Serving received %+v, want one POST /v1/models/mnist:predict as %s", got, user.Email)
		}
		resp, body := session.do(t, http.MethodGet, "/models/mnist/", map[string]string{"Accept": "application/json"}, "")
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "AVAILABLE") {
			t.Fatalf("model status: %s %q, want 200 AVAILABLE", resp.Status, body)
		}
	})

	t.Run("3-serviceaccount-token-predicts", func(t *testing.T) {
		tr, err := w.cs.CoreV1().ServiceAccounts(w.ns).CreateToken(context.Background(), "default-editor",
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{Audiences: []string{audience}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		token = tr.Status.Token
		p, why := w.client().predict(t, "/models/mnist/", map[string]string{"Authorization": "Bearer " + token}, instances)
		if !slices.Equal(p.Predictions, wantPredictions) {
			t.Fatalf("prediction with a ServiceAccount token: %v (%s), want %v", p.Predictions, why, wantPredictions)
		}
		tf := w.tf.requests()
		if u := tf[len(tf)-1].Headers["kubeflow-userid"]; u != "system:serviceaccount:"+w.ns+":default-editor" {
			t.Fatalf("TF Serving saw kubeflow-userid %q, want the ServiceAccount", u)
		}
	})

	t.Run("4-identity-headers-not-forgeable", func(t *testing.T) {
		forged := forgedIdentity(map[string]string{"Accept": acceptHTML})
		check := checkIdentity
		check(t, session.echo(t, http.MethodGet, "/whoami", forged), user.Email)
		bearer := map[string]string{"Authorization": "Bearer " + token}
		for k, v := range forged {
			bearer[k] = v
		}
		check(t, w.client().echo(t, http.MethodGet, "/whoami", bearer), "system:serviceaccount:"+w.ns+":default-editor")
		// Without a session: a skipAuth path reaches the upstream with no identity at all.
		check(t, w.client().echo(t, http.MethodGet, "/dex/x", forged), "")
		n := len(w.echo.requests())
		if resp, _ := w.client().do(t, http.MethodGet, "/whoami", forged, ""); resp.StatusCode != http.StatusFound || len(w.echo.requests()) != n {
			t.Errorf("forged identity without a session: %s, reached the upstream %d times; want a 302 and none", resp.Status, len(w.echo.requests())-n)
		}
	})

	t.Run("5-api-clients-401-browsers-302", func(t *testing.T) {
		anon := w.client()
		for _, h := range []map[string]string{{"X-Requested-With": "XMLHttpRequest"}, {"Accept": "application/json"}} {
			if resp, _ := anon.do(t, http.MethodGet, "/notebooks/", h, ""); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("API client %v without a session: %s, want 401", h, resp.Status)
			}
		}
		resp, _ := anon.do(t, http.MethodGet, "/notebooks/", map[string]string{"Accept": acceptHTML}, "")
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, w.idp.Issuer+"/") {
			t.Errorf("browser without a session: %s to %q, want a 302 to the IdP %s", resp.Status, loc, w.idp.Issuer)
		}
	})

	t.Run("6-notebook-lab-and-kernel-websocket", func(t *testing.T) {
		lab, kernel := w.notebookPath(jupyterName)+"lab", w.notebookPath(jupyterName)+"api/kernels/k1/channels"
		// The route reaches the gateway a moment after the Service's annotation.
		eventually(t, "the notebook's route", func() (bool, string) {
			resp, body := session.do(t, http.MethodGet, lab, map[string]string{"Accept": acceptHTML}, "")
			return resp.StatusCode == http.StatusOK && strings.Contains(body, "notebook "+jupyterName), resp.Status + " " + body
		})
		resp, body := session.do(t, http.MethodGet, lab, map[string]string{"Accept": acceptHTML}, "")
		if !strings.Contains(body, "kubeflow-userid: "+user.Email) {
			t.Errorf("the notebook's page: %s %q, want it served to %s", resp.Status, body, user.Email)
		}
		seen := w.jupyter.requests()
		if last := seen[len(seen)-1]; last.Path != lab || last.Headers["kubeflow-userid"] != user.Email {
			t.Errorf("the notebook received %s as %q, want %s (the path kept) as %s", last.Path, last.Headers["kubeflow-userid"], lab, user.Email)
		}

		n := len(w.jupyter.requests())
		resp, ws := session.dialWebSocket(t, kernel, nil)
		if ws == nil {
			t.Fatalf("a kernel's websocket with the session: %s, want 101", resp.Status)
		}
		if got := ws.roundTrip(t, "execute_request 1"); got != "echo: execute_request 1" {
			t.Errorf("through the kernel's websocket: %q, want the notebook's echo", got)
		}
		if got := ws.roundTrip(t, strings.Repeat("x", 300)); got != "echo: "+strings.Repeat("x", 300) {
			t.Errorf("a 300-byte message through the websocket: %d bytes back, want the echo", len(got))
		}
		ws.close(t)
		if hs := w.jupyter.requests()[n:]; len(hs) != 1 || hs[0].Path != kernel || hs[0].Headers["upgrade"] != "websocket" ||
			hs[0].Headers["kubeflow-userid"] != user.Email {
			t.Errorf("the notebook received %+v, want one websocket handshake for %s as %s", hs, kernel, user.Email)
		}

		if browser != nil {
			n := len(w.jupyter.requests())
			browser.do(t, "opening the notebook in Chromium", chromedp.Navigate(w.gateway+lab),
				until(`["echo: `+kernelGreeting+`", "websocket error"].includes(document.getElementById("kernel")?.textContent)`))
			browser.screenshot(t, "notebook")
			got, err := chromedp.Run(browser.ctx, chromedp.Evaluate[string](`document.getElementById("kernel").textContent + " / " + document.getElementById("user").textContent`))
			if want := "echo: " + kernelGreeting + " / kubeflow-userid: " + user.Email; err != nil || got != want {
				t.Errorf("the notebook's page in Chromium shows %q (%v), want %q", got, err, want)
			}
			hs := w.jupyter.requests()[n:]
			if !slices.ContainsFunc(hs, func(e echoed) bool {
				return e.Path == kernel && e.Headers["upgrade"] == "websocket" && e.Headers["kubeflow-userid"] == user.Email
			}) {
				t.Errorf("the notebook never saw Chromium's websocket for %s as %s: %+v", kernel, user.Email, hs)
			}
		}

		anon := w.client()
		n = len(w.jupyter.requests())
		if resp, ws := anon.dialWebSocket(t, kernel, nil); ws != nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("a kernel's websocket without a session: %s, want 401", resp.Status)
		}
		if resp, _ := anon.do(t, http.MethodGet, w.notebookPath(jupyterName)+"api/kernels", map[string]string{"X-Requested-With": "XMLHttpRequest"}, ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("an XHR to the notebook without a session: %s, want 401", resp.Status)
		}
		resp, _ = anon.do(t, http.MethodGet, lab, map[string]string{"Accept": acceptHTML}, "")
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, w.idp.Issuer+"/") {
			t.Errorf("opening the notebook without a session: %s to %q, want a 302 to the IdP", resp.Status, loc)
		}
		if got := len(w.jupyter.requests()) - n; got != 0 {
			t.Errorf("without a session, the notebook was reached %d times: %+v", got, w.jupyter.requests()[n:])
		}
	})

	t.Run("7-notebook-path-and-headers-from-its-notebook", func(t *testing.T) {
		root := w.notebookPath(rstudioName)
		get := func(t *testing.T, c *client, path string, headers map[string]string) (echoed, string) {
			t.Helper()
			h := map[string]string{"Accept": "application/json"}
			for k, v := range headers {
				h[k] = v
			}
			resp, body := c.do(t, http.MethodGet, path, h, "")
			var e echoed
			if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &e) != nil {
				return echoed{}, resp.Status + " " + body
			}
			return e, ""
		}
		var e echoed
		eventually(t, "the RStudio notebook's route", func() (bool, string) {
			var why string
			e, why = get(t, session, root+"x?q=1", map[string]string{"X-RStudio-Root-Path": "/elsewhere/"})
			return e.Server == rstudioName, why + fmt.Sprintf(" %+v", e)
		})
		if e.Path != "/x?q=1" || e.Headers["x-rstudio-root-path"] != root || e.Headers["kubeflow-userid"] != user.Email {
			t.Errorf("RStudio received %s with X-RStudio-Root-Path %q as %q; want /x?q=1 with %s (the client's replaced) as %s",
				e.Path, e.Headers["x-rstudio-root-path"], e.Headers["kubeflow-userid"], root, user.Email)
		}
		if e, why := get(t, session, root, nil); e.Server != rstudioName || e.Path != "/" || e.Headers["x-rstudio-root-path"] != root {
			t.Errorf("the RStudio notebook's root: %+v (%s), want / with X-RStudio-Root-Path %s", e, why, root)
		}
		// The path is rewritten only at a segment boundary: /notebook/<ns>/rstudio-2/ is not RStudio's.
		if e, why := get(t, session, strings.TrimSuffix(root, "/")+"-2/x", nil); e.Server != "echo" {
			t.Errorf("a longer name than the notebook's: %+v (%s), want the catch-all echo", e, why)
		}
		// Jupyter's route sets no such header.
		if e, why := get(t, session, w.notebookPath(jupyterName)+"api/status", nil); e.Server != jupyterName || e.Headers["x-rstudio-root-path"] != "" {
			t.Errorf("Jupyter's notebook: %+v (%s), want it without X-RStudio-Root-Path", e, why)
		}
		// RStudio's websocket goes through the rewrite too.
		n := len(w.rstudio.requests())
		resp, ws := session.dialWebSocket(t, root+"api/kernels/k2/channels", map[string]string{"X-RStudio-Root-Path": "/elsewhere/"})
		if ws == nil {
			t.Fatalf("a websocket to RStudio: %s, want 101", resp.Status)
		}
		if got := ws.roundTrip(t, "ping"); got != "echo: ping" {
			t.Errorf("through RStudio's websocket: %q, want the echo", got)
		}
		ws.close(t)
		if hs := w.rstudio.requests()[n:]; len(hs) != 1 || hs[0].Path != "/api/kernels/k2/channels" || hs[0].Headers["x-rstudio-root-path"] != root {
			t.Errorf("RStudio received %+v, want one websocket handshake for /api/kernels/k2/channels with X-RStudio-Root-Path %s", hs, root)
		}
	})

	t.Run("8-notebook-route-follows-its-notebook", func(t *testing.T) {
		root := w.notebookPath(rstudioName)
		reaches := func(path, header string) func() (bool, string) {
			return func() (bool, string) {
				resp, body := session.do(t, http.MethodGet, root+"x", map[string]string{"Accept": "application/json"}, "")
				var e echoed
				ok := resp.StatusCode == http.StatusOK && json.Unmarshal([]byte(body), &e) == nil && e.Server == rstudioName &&
					e.Path == path && e.Headers["x-rstudio-root-path"] == header
				return ok, resp.Status + " " + body
			}
		}
		headers := fmt.Sprintf(`{"X-RStudio-Root-Path": %q}`, root)
		w.annotateNotebook(t, rstudioName, map[string]any{kubeflow.AnnotationNotebookRewrite: "/rstudio/"})
		eventually(t, "RStudio's route to follow its Notebook's new http-rewrite-uri", reaches("/rstudio/x", root))

		// A mistake in the Notebook keeps the route it had, and its Service is told.
		w.annotateNotebook(t, rstudioName, map[string]any{kubeflow.AnnotationNotebookHeaders: "{not json"})
		eventually(t, "a Warning Event on RStudio's Service", func() (bool, string) {
			evs, err := w.cs.EventsV1().Events(w.ns).List(context.Background(), metav1.ListOptions{})
			if err != nil {
				return false, err.Error()
			}
			for _, ev := range evs.Items {
				if ev.Regarding.Kind == "Service" && ev.Regarding.Name == rstudioName && ev.Reason == kubeflow.ReasonInvalidNotebook &&
					strings.Contains(ev.Note, kubeflow.AnnotationNotebookHeaders) {
					return true, ""
				}
			}
			return false, fmt.Sprintf("%d events, none %s for the Service", len(evs.Items), kubeflow.ReasonInvalidNotebook)
		})
		if ok, why := reaches("/rstudio/x", root)(); !ok {
			t.Errorf("with a mistake in its Notebook, RStudio's route changed: %s", why)
		}

		w.annotateNotebook(t, rstudioName, map[string]any{kubeflow.AnnotationNotebookRewrite: "/", kubeflow.AnnotationNotebookHeaders: headers})
		eventually(t, "RStudio's route back to its first annotations", reaches("/x", root))
	})

	t.Run("9-notebook-identity-not-forgeable", func(t *testing.T) {
		forged := forgedIdentity(map[string]string{"Accept": "application/json"})
		resp, body := session.do(t, http.MethodGet, w.notebookPath(jupyterName)+"api/contents", forged, "")
		var e echoed
		if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &e) != nil || e.Server != jupyterName {
			t.Fatalf("the notebook's API with forged identity headers: %s %q, want the notebook's answer", resp.Status, body)
		}
		checkIdentity(t, e, user.Email)
		n := len(w.jupyter.requests())
		resp, ws := session.dialWebSocket(t, w.notebookPath(jupyterName)+"api/kernels/k1/channels", forgedIdentity(nil))
		if ws == nil {
			t.Fatalf("a kernel's websocket with forged identity headers: %s, want 101", resp.Status)
		}
		ws.close(t)
		if hs := w.jupyter.requests()[n:]; len(hs) != 1 {
			t.Errorf("the notebook received %+v, want one websocket handshake", hs)
		} else {
			checkIdentity(t, hs[0], user.Email)
		}
		n = len(w.jupyter.requests())
		anon := w.client()
		if resp, ws := anon.dialWebSocket(t, w.notebookPath(jupyterName)+"api/kernels/k1/channels", forgedIdentity(nil)); ws != nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("a websocket with forged identity headers and no session: %s, want 401", resp.Status)
		}
		if resp, _ := anon.do(t, http.MethodGet, w.notebookPath(jupyterName)+"api/contents", forged, ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("the notebook's API with forged identity headers and no session: %s, want 401", resp.Status)
		}
		if got := len(w.jupyter.requests()) - n; got != 0 {
			t.Errorf("forged identity without a session reached the notebook %d times", got)
		}
	})

	t.Run("10-notebook-service-deleted-route-gone", func(t *testing.T) {
		lab := w.notebookPath(jupyterName) + "lab"
		if err := w.cs.CoreV1().Services(w.ns).Delete(context.Background(), jupyterName, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the deleted notebook's path to fall to the catch-all echo", func() (bool, string) {
			resp, body := session.do(t, http.MethodGet, lab, map[string]string{"Accept": "application/json"}, "")
			var e echoed
			ok := resp.StatusCode == http.StatusOK && json.Unmarshal([]byte(body), &e) == nil && e.Server == "echo" && e.Path == lab
			return ok, resp.Status + " " + body
		})
		n := len(w.jupyter.requests())
		if e := session.echo(t, http.MethodGet, lab, map[string]string{"Accept": "application/json"}); e.Headers["kubeflow-userid"] != user.Email {
			t.Errorf("the catch-all echo saw kubeflow-userid %q, want %s", e.Headers["kubeflow-userid"], user.Email)
		}
		// The catch-all route allows no websocket: Envoy refuses the upgrade (403) before any filter.
		if resp, ws := session.dialWebSocket(t, w.notebookPath(jupyterName)+"api/kernels/k1/channels", nil); ws != nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("a websocket to the deleted notebook: %s, want 403 (the catch-all route allows no upgrade)", resp.Status)
		}
		if got := len(w.jupyter.requests()) - n; got != 0 {
			t.Errorf("the deleted notebook's upstream was reached %d times", got)
		}
		// The other notebook is still served.
		resp, body := session.do(t, http.MethodGet, w.notebookPath(rstudioName)+"x", map[string]string{"Accept": "application/json"}, "")
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"server":"`+rstudioName+`"`) {
			t.Errorf("the RStudio notebook after Jupyter's Service went: %s %q, want RStudio's answer", resp.Status, body)
		}
	})

	t.Run("11-tenant-cannot-configure-the-gateway", func(t *testing.T) {
		// A profile's Service whose annotation tries to configure the gateway; only its Mapping
		// within its own path space, to its own Service, behind the login, is served.
		w.createEvil(t)
		api := map[string]string{"Accept": "application/json"}
		tenant := "/" + w.ns + "/"
		var e echoed
		eventually(t, "the tenant's own Mapping served", func() (bool, string) {
			var why string
			e, why = session.get(t, tenant+"app/x", api)
			return e.Headers[routeHeader] == "app", why + fmt.Sprintf(" %+v", e)
		})
		if e.Path != "/x" || e.Headers["kubeflow-userid"] != user.Email {
			t.Errorf("the tenant's Service received %s as %q, want /x (its prefix rewritten) as %s", e.Path, e.Headers["kubeflow-userid"], user.Email)
		}

		// bypass_auth refused: without a session, the path falls to the catch-all, which wants a login.
		anon := w.client()
		n := len(w.echo.requests())
		resp, _ := anon.do(t, http.MethodGet, tenant+"public/x", map[string]string{"Accept": acceptHTML}, "")
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, w.idp.Issuer+"/") {
			t.Errorf("a browser without a session on the tenant's bypass_auth path: %s to %q, want a 302 to the IdP", resp.Status, loc)
		}
		if resp, _ := anon.do(t, http.MethodGet, tenant+"public/x", map[string]string{"X-Requested-With": "XMLHttpRequest"}, ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("an XHR without a session on the tenant's bypass_auth path: %s, want 401", resp.Status)
		}
		if got := w.echo.requests()[n:]; len(got) != 0 {
			t.Errorf("without a session, the tenant's bypass_auth path reached the upstream: %+v", got)
		}

		// The forged kubeflow-userid refused with its Mapping: the catch-all answers, as the user.
		if e, why := session.get(t, tenant+"admin/x", api); e.Server != "echo" || e.Path != tenant+"admin/x" || e.Headers[routeHeader] != "" ||
			e.Headers["kubeflow-userid"] != user.Email {
			t.Errorf("the tenant's Mapping setting kubeflow-userid: %+v (%s), want the catch-all echo (path kept, no %s) as %s", e, why, routeHeader, user.Email)
		}
		// Paths outside the tenant's spaces, a prefix or a regex, stay the catch-all's.
		for _, p := range []string{"/x-elsewhere/y", "/" + w.ns + "-other/z"} {
			if e, why := session.get(t, p, api); e.Server != "echo" || e.Path != p || e.Headers[routeHeader] != "" || e.Headers["kubeflow-userid"] != user.Email {
				t.Errorf("%s with the session: %+v (%s), want the catch-all echo (path kept, no %s) as %s", p, e, why, routeHeader, user.Email)
			}
		}
		// /dex/ skips the login (authn's skipAuth), with a session or without: no page of the tenant's there.
		if e, why := session.get(t, "/dex/evil/x", api); e.Server != "echo" || e.Path != "/dex/evil/x" || e.Headers[routeHeader] != "" {
			t.Errorf("/dex/evil/x with the session: %+v (%s), want the catch-all echo (path kept, no %s)", e, why, routeHeader)
		}
		if e := anon.echo(t, http.MethodGet, "/dex/evil/x", api); e.Path != "/dex/evil/x" || e.Headers[routeHeader] != "" {
			t.Errorf("/dex/evil/x without a session: %+v, want the catch-all echo (path kept, no %s)", e, routeHeader)
		}

		// The Module refused: no route sets kubeflow-userid, and no upstream ever saw the forged value.
		if p, why := session.predict(t, "/models/mnist/", nil, instances); !slices.Equal(p.Predictions, wantPredictions) {
			t.Errorf("prediction next to the tenant's Module: %v (%s), want %v", p.Predictions, why, wantPredictions)
		} else if tf := w.tf.requests(); tf[len(tf)-1].Headers["kubeflow-userid"] != user.Email {
			t.Errorf("TF Serving saw kubeflow-userid %q, want %s", tf[len(tf)-1].Headers["kubeflow-userid"], user.Email)
		}
		if e, why := session.get(t, w.notebookPath(rstudioName)+"x", api); e.Server != rstudioName || e.Headers["kubeflow-userid"] != user.Email {
			t.Errorf("the RStudio notebook next to the tenant's Module: %+v (%s), want it as %s", e, why, user.Email)
		}
		for _, u := range []*upstream{w.echo, w.tf, w.jupyter, w.rstudio} {
			if got := carries(u, forgedAdmin); len(got) != 0 {
				t.Errorf("%s received %s: %+v", u.name, forgedAdmin, got)
			}
		}

		// An ExternalName Service of the tenant for what is not its own (localhost, where kfgate
		// authn's metrics are) gets no traffic: 503.
		if resp, body := session.do(t, http.MethodGet, tenant+"loop/", api, ""); resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(body, "kfgate_authn") {
			t.Errorf("the tenant's route to its ExternalName Service for localhost: %s %.200q, want 503", resp.Status, body)
		}

		// A trusted Mapping wins a path over a tenant's, even an older one; the tenant's is refused.
		shared := tenant + "shared/"
		w.createAnnotated(t, w.ns, "squatter", markedMapping("squatter", shared, "squatter", "squatter"))
		eventually(t, "the tenant's Mapping on "+shared, func() (bool, string) {
			e, why := session.get(t, shared+"x", api)
			return e.Headers[routeHeader] == "squatter" && e.Path == "/x", why + fmt.Sprintf(" %+v", e)
		})
		w.createAnnotated(t, w.gwNS, "shared", markedMapping("shared", shared, "shared", "trusted"))
		eventually(t, "the newer trusted Mapping to win "+shared+" over the tenant's", func() (bool, string) {
			e, why := session.get(t, shared+"x", api)
			return e.Headers[routeHeader] == "trusted" && e.Path == "/x" && e.Headers["kubeflow-userid"] == user.Email, why + fmt.Sprintf(" %+v", e)
		})
		eventually(t, "the tenant's Mapping on "+shared+" refused", func() (bool, string) {
			diags, why := w.diagnostics(w.ns, "squatter")
			return slices.ContainsFunc(diags, func(d mapping.Diagnostic) bool {
				return d.DocName == "squatter" && d.Severity == mapping.SeverityError && d.Reason == mapping.ReasonConflict
			}), fmt.Sprintf("%v %s", diags, why)
		})

		// Each refused document has its error, and the tenant is told, on its Service, by a Warning.
		eventually(t, "kfgate serve's diagnostics to refuse each of the tenant's documents", func() (bool, string) {
			diags, why := w.diagnostics(w.ns, evilName)
			refused := map[string]string{}
			for _, d := range diags {
				if d.Severity == mapping.SeverityError && d.Reason == mapping.ReasonUntrusted {
					refused[d.DocName] = d.Field
				}
			}
			return maps.Equal(refused, evilRefused) && !slices.ContainsFunc(diags, func(d mapping.Diagnostic) bool { return d.DocName == "evil-app" }),
				fmt.Sprintf("refused %v (%s; all: %v), want %v (document: field) and nothing about evil-app", refused, why, diags, evilRefused)
		})
		// The Mappings kfgate generates in the tenant's namespace are within its rules.
		for _, svc := range []string{"mnist", rstudioName} {
			diags, why := w.diagnostics(w.ns, svc)
			if why != "" || slices.ContainsFunc(diags, func(d mapping.Diagnostic) bool { return d.Reason == mapping.ReasonUntrusted }) {
				t.Errorf("the generated Mappings of %s: %v %s, want none %s", svc, diags, why, mapping.ReasonUntrusted)
			}
		}
		var note string
		eventually(t, "a Warning Event "+mapping.ReasonUntrusted+" on the tenant's Service", func() (bool, string) {
			var why string
			note, why = w.untrustedEvent(w.ns, evilName)
			return note != "", why
		})
		// The note is cut at 1024 bytes (events.k8s.io's limit): its visible part names not trusted documents.
		if !strings.HasPrefix(note, fmt.Sprintf("%d problems: ", len(evilRefused))) || !strings.Contains(note, "is not trusted") || strings.Contains(note, "evil-app") {
			t.Errorf("the Event's note %q: want %d problems, of namespace trust, and nothing of evil-app", note, len(evilRefused))
		}
	})

	t.Run("12-logout-ends-both-sessions", func(t *testing.T) {
		if browser != nil {
			browser.do(t, "logging out with Chromium",
				chromedp.Navigate(w.gateway+"/authservice/logout"),
				until(`document.querySelector('button[name="logout"]') !== null`),
				chromedp.Click(chromedp.CSS(`button[name="logout"]`)),
				// Back on / after the IdP's logout, the gateway sends the browser to log in, and the
				// IdP asks for credentials again: both sessions are gone.
				until(fmt.Sprintf(`location.href.startsWith(%q) && document.querySelector('#login input[name="password"]') !== null`, w.idp.Issuer+"/")),
			)
			browser.screenshot(t, "after-logout")
			for _, ck := range browser.cookies(t, w.gateway+"/") {
				if strings.HasPrefix(ck.Name, "kfgate-session") && ck.Value != "" {
					t.Errorf("the browser still holds %s after logout", ck.Name)
				}
			}
			browser.do(t, "opening / again", chromedp.Navigate(w.gateway+"/"),
				until(fmt.Sprintf(`location.href.startsWith(%q) && document.querySelector('#login input[name="password"]') !== null`, w.idp.Issuer+"/")))
			// A copy of the sealed cookie taken before logout (scenario 1's jar) is not revoked by
			// the cookie store, which keeps no server-side state: logged, not asserted.
			replay, _ := session.do(t, http.MethodGet, "/", map[string]string{"Accept": acceptHTML}, "")
			t.Logf("a copy of the session cookie taken before logout, replayed: %s", replay.Status)
		}
		// The cookie-jar browser: logged out through the gateway and the IdP, the next request is
		// sent to log in, and the IdP shows its login form instead of signing the browser straight in.
		c := w.client()
		c.login(t)
		resp, _ := c.do(t, http.MethodGet, "/authservice/logout", map[string]string{"Accept": acceptHTML}, "")
		endSession := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(endSession, w.idp.Issuer+"/") {
			t.Fatalf("logout: %s to %q, want a 302 to the IdP's end_session_endpoint", resp.Status, endSession)
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		after, err := w.idp.Logout(ctx, c.c, endSession)
		if err != nil || after.String() != w.gateway+"/" {
			t.Fatalf("the IdP's logout: %v, %v; want it to send the browser to %s/", after, err, w.gateway)
		}
		resp, _ = c.do(t, http.MethodGet, "/", map[string]string{"Accept": acceptHTML}, "")
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), w.idp.Issuer+"/") {
			t.Fatalf("after logout: %s to %q, want a 302 to log in", resp.Status, resp.Header.Get("Location"))
		}
		if !c.asksForCredentials(t, resp.Header.Get("Location")) {
			t.Fatal("after logout, the IdP signed the browser in without asking for credentials")
		}
	})

	t.Run("13-endpoints-and-labels-change-what-is-served", func(t *testing.T) {
		api := w.client()
		bearer := map[string]string{"Authorization": "Bearer " + token}
		servers := func(n int) map[string]int {
			seen := map[string]int{}
			for range n {
				p, why := api.predict(t, "/models/mnist/", bearer, instances)
				if why != "" {
					seen[why]++
					continue
				}
				seen[p.Server]++
			}
			return seen
		}
		tf2 := startTFServing(t, "tf-2")
		w.putSlice(w.ns, "mnist", "mnist-2", "http-tf-serving", tf2.port)
		eventually(t, "both TF Serving servers to answer", func() (bool, string) {
			s := servers(10)
			return s["tf-1"] > 0 && s["tf-2"] > 0, fmt.Sprint(s)
		})
		if err := w.cs.DiscoveryV1().EndpointSlices(w.ns).Delete(context.Background(), "mnist-2", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "only tf-1 to answer", func() (bool, string) {
			s := servers(10)
			return s["tf-1"] == 10, fmt.Sprint(s)
		})

		w.editService(t, "mnist", func(svc *corev1.Service) { svc.Labels[kubeflow.KeyExpose] = "false" })
		eventually(t, "the opted-out model no longer served (the catch-all echo answers)", func() (bool, string) {
			resp, body := api.do(t, http.MethodPost, "/models/mnist/", bearer, `{"instances": [[1]]}`)
			return resp.StatusCode == http.StatusOK && strings.Contains(body, `"server":"echo"`), resp.Status + " " + body
		})
		w.editService(t, "mnist", func(svc *corev1.Service) {
			delete(svc.Labels, kubeflow.KeyExpose)
			if svc.Annotations == nil {
				svc.Annotations = map[string]string{}
			}
			svc.Annotations[kubeflow.KeyModelName] = "digits"
		})
		eventually(t, "the model served again under its new name", func() (bool, string) {
			p, why := api.predict(t, "/models/digits/", bearer, instances)
			return slices.Equal(p.Predictions, wantPredictions), why
		})
		if tf := w.tf.requests(); tf[len(tf)-1].Path != "/v1/models/digits:predict" {
			t.Fatalf("TF Serving received %s, want /v1/models/digits:predict", tf[len(tf)-1].Path)
		}
		w.editService(t, "mnist", func(svc *corev1.Service) { delete(svc.Annotations, kubeflow.KeyModelName) })
		eventually(t, "the model back at /models/mnist/", func() (bool, string) {
			p, why := api.predict(t, "/models/mnist/", bearer, instances)
			return slices.Equal(p.Predictions, wantPredictions), why
		})
	})

	t.Run("14-idp-down", func(t *testing.T) {
		existing := w.client()
		existing.login(t)
		// A login under way when the IdP goes: its callback cannot redeem the code.
		pending := w.client()
		resp, _ := pending.do(t, http.MethodGet, "/", map[string]string{"Accept": acceptHTML}, "")
		callback := pending.idpLogin(t, resp.Header.Get("Location"))
		w.idp.Stop()
		defer w.idp.Restart(t)

		existing.echo(t, http.MethodGet, "/still-here", map[string]string{"Accept": acceptHTML})
		resp, body := pending.do(t, http.MethodGet, callback, map[string]string{"Accept": acceptHTML}, "")
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(strings.ToLower(body), "<html") {
			t.Fatalf("a login's callback with the IdP down: %s %q, want a 503 page", resp.Status, body)
		}
		// A new login, once kfgate authn's probe has found the IdP down, gets a 503 page rather
		// than a redirect to a provider the browser cannot reach.
		eventually(t, "kfgate authn's probe to find the IdP down", func() (bool, string) {
			m := w.authnMetric(t, "kfgate_authn_idp_reachable")
			return m == "0", "kfgate_authn_idp_reachable " + m
		})
		resp, body = w.client().do(t, http.MethodGet, "/", map[string]string{"Accept": acceptHTML}, "")
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(strings.ToLower(body), "<html") {
			t.Fatalf("a new login with the IdP down: %s %q, want a 503 page", resp.Status, body)
		}
	})
}

// forgedIdentity is headers that claim another identity (every spelling a proxy might take for
// kubeflow-userid, and a group), with extra headers added. Every forged value names mallory.
func forgedIdentity(extra map[string]string) map[string]string {
	h := map[string]string{"kubeflow-userid": "mallory@example.com", "kubeflow_userid": "mallory@example.com",
		"KUBEFLOW-USERID": "mallory@example.com", "kubeflow-groups": "mallory-admins"}
	for k, v := range extra {
		h[k] = v
	}
	return h
}

// checkIdentity fails unless the upstream saw no forged identity, and kubeflow-userid want.
func checkIdentity(t *testing.T, e echoed, want string) {
	t.Helper()
	for k, v := range e.Headers {
		if strings.Contains(v, "mallory") {
			t.Errorf("the upstream received %s: %q", k, v)
		}
	}
	if e.Headers["kubeflow-userid"] != want {
		t.Errorf("kubeflow-userid %q, want %q", e.Headers["kubeflow-userid"], want)
	}
}

// editService changes a Service, retrying on conflicts.
func (w *world) editService(t *testing.T, name string, edit func(*corev1.Service)) {
	t.Helper()
	api := w.cs.CoreV1().Services(w.ns)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		svc, err := api.Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if svc.Labels == nil {
			svc.Labels = map[string]string{}
		}
		edit(svc)
		_, err = api.Update(context.Background(), svc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitServed waits until the gateway routes to echo through authn (an anonymous browser is sent
// to the IdP) and the model is served (its Service annotated, the route in place).
func (w *world) waitServed() {
	t := w.t
	c := w.client()
	eventually(t, "the gateway to send browsers to the IdP", func() (bool, string) {
		resp, err := c.c.Do(mustRequest(t, w.gateway+"/", acceptHTML))
		if err != nil {
			return false, err.Error()
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusFound && strings.HasPrefix(resp.Header.Get("Location"), w.idp.Issuer), resp.Status
	})
	// The RStudio notebook's route must follow its Notebook's annotations from the start: the
	// helper reads Notebooks at once (the CRD was there before kfgate serve), not a minute later.
	for svc, want := range map[string][]string{
		"mnist":     nil,
		jupyterName: {"prefix: " + w.notebookPath(jupyterName) + "\n", "rewrite: " + w.notebookPath(jupyterName) + "\n", "use_websocket: true"},
		rstudioName: {"prefix: " + w.notebookPath(rstudioName) + "\n", "rewrite: /\n", "x-rstudio-root-path:", "use_websocket: true"},
	} {
		eventually(t, "the "+svc+" Service annotated by the Kubeflow helper", func() (bool, string) {
			s, err := w.cs.CoreV1().Services(w.ns).Get(context.Background(), svc, metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			text, ok := s.Annotations["kfgate.io/generated-config"]
			for _, part := range want {
				ok = ok && strings.Contains(text, part)
			}
			return ok, fmt.Sprint(s.Annotations)
		})
	}
}

func mustRequest(t *testing.T, url, accept string) *http.Request {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", accept)
	return req
}
