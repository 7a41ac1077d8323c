package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/kubeflow"
)

// The Kubeflow 0.4-0.5 mnist Service, with the hand-written annotation of that era and comments.
const mnistService = `# mnist, served by TF Serving
apiVersion: v1
kind: Service
metadata:
  name: mnist
  namespace: kubeflow
  labels:
    app: mnist
  annotations:
    getambassador.io/config: |
      ---
      apiVersion: ambassador/v0
      kind: Mapping
      name: tfserving-predict-mapping-mnist
      prefix: /tfserving/models/mnist
      rewrite: /v1/models/mnist:predict
      method: POST
      service: mnist.kubeflow:8500
    owner: team-a # who to ask
spec:
  selector:
    app: mnist
  ports:
  - name: grpc-tf-serving
    port: 9000
    targetPort: 9000
  - name: http-tf-serving # REST
    port: 8500
    targetPort: 8500
`

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func decodeService(t *testing.T, text string) *corev1.Service {
	t.Helper()
	var svc corev1.Service
	if err := yaml.Unmarshal([]byte(text), &svc); err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return &svc
}

// TestKubeflowAnnotate: the printed Service is the input plus the generated annotation, which is
// what the kubeflow package generates, and which kfgate lint finds nothing wrong with.
func TestKubeflowAnnotate(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "mnist.yaml", mnistService)
	out, stderr, code := run(t, "kubeflow", "annotate", "-f", in)
	if code != 0 || !strings.Contains(stderr, "model mnist (tf-serving-rest) at /models/mnist/, upstream mnist.kubeflow:8500") {
		t.Fatalf("annotate: exit %d, stderr %q", code, stderr)
	}
	for _, keep := range []string{"# mnist, served by TF Serving", "owner: team-a # who to ask", "# REST"} {
		if !strings.Contains(out, keep) {
			t.Errorf("the output lost %q:\n%s", keep, out)
		}
	}
	got, orig := decodeService(t, out), decodeService(t, mnistService)
	text := got.Annotations[mapping.AnnotationGenerated]
	delete(got.Annotations, mapping.AnnotationGenerated)
	if !reflect.DeepEqual(got, orig) {
		t.Errorf("annotate changed more than its annotation:\n got  %+v\n want %+v", got, orig)
	}
	want, err := kubeflow.Generate(kubeflow.Model{Kind: kubeflow.KindTFServing, Name: "mnist", Namespace: "kubeflow", Service: "mnist",
		Port: 8500, Protocol: kubeflow.ProtocolTFServing}, "/models/mnist/", kubeflow.GenerateOptions{})
	if err != nil || text != want {
		t.Errorf("annotation:\n%s\nwant:\n%s (%v)", text, want, err)
	}
	annotated := writeFile(t, dir, "annotated.yaml", out)
	if lint, _, code := run(t, "lint", "-f", annotated); code != 0 || lint != "" {
		t.Errorf("lint of the annotated Service: exit %d\n%s", code, lint)
	}
	// Annotating again replaces the annotation instead of adding a second one.
	again, _, _ := run(t, "kubeflow", "annotate", "-f", annotated, "--model-name", "digits", "--template", "/serving/{namespace}/{name}/")
	if strings.Count(again, mapping.AnnotationGenerated) != 1 || !strings.Contains(again, `prefix: /serving/kubeflow/digits(`) ||
		!strings.Contains(again, `substitution: /v1/models/digits\1:predict`) {
		t.Errorf("re-annotating with --model-name and --template:\n%s", again)
	}
}

func TestKubeflowAnnotateRefuses(t *testing.T) {
	dir := t.TempDir()
	dashboard := writeFile(t, dir, "dash.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: centraldashboard\n  namespace: kubeflow\nspec:\n  ports:\n  - name: http\n    port: 80\n")
	grpcOnly := writeFile(t, dir, "grpc.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: mnist\nspec:\n  ports:\n  - name: grpc-tf-serving\n    port: 9000\n")
	optedOut := writeFile(t, dir, "out.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: mnist\n  annotations:\n    kfgate.io/expose: \"false\"\nspec:\n  ports:\n  - name: http-tf-serving\n    port: 8500\n")
	nb := writeFile(t, dir, "nb.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: jupyter\n  namespace: team-a\n  ownerReferences:\n  - {apiVersion: kubeflow.org/v1, kind: Notebook, name: jupyter, uid: u, controller: true}\nspec:\n  ports:\n  - name: http-jupyter\n    port: 80\n")
	badName := writeFile(t, dir, "bad.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: mnist\n  annotations:\n    kfgate.io/model-name: a/b\nspec:\n  ports:\n  - name: http-tf-serving\n    port: 8500\n")
	for _, c := range []struct {
		file, want string
	}{
		{dashboard, "Service kubeflow/centraldashboard is not a model server kfgate exposes (NotModelServer):\n  - no port has a Kubeflow TF Serving name"},
		{grpcOnly, "(NotExposed):"},
		{grpcOnly, "the Service has only gRPC ports (grpc-tf-serving (9000))"},
		{grpcOnly, "the Service has no namespace: assuming default"},
		{optedOut, "(OptedOut):\n  - annotation kfgate.io/expose=false: opted out"},
		{badName, `metadata.annotations[kfgate.io/model-name]: "a/b": a model name must be`},
		{nb, "is Kubeflow Notebook jupyter's Service, not a model server: kfgate serve (--kubeflow-notebooks) routes it at /notebook/team-a/jupyter/ itself"},
	} {
		out, stderr, code := run(t, "kubeflow", "annotate", "-f", c.file)
		if code != 1 || out != "" || !strings.Contains(stderr, c.want) {
			t.Errorf("annotate %s: exit %d, stdout %q, stderr %q; want exit 1 and %q", filepath.Base(c.file), code, out, stderr, c.want)
		}
	}
	mnist := writeFile(t, dir, "mnist.yaml", mnistService)
	two := writeFile(t, dir, "two.yaml", mnistService+"---\n"+mnistService)
	deploy := writeFile(t, dir, "deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: mnist\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-f", mnist, "--template", "/models/{model}/"}, `--template: template: "/models/{model}/": unknown placeholder {model}`},
		{[]string{"-f", mnist, "--template", "/models/{name}"}, `must start and end with "/"`},
		{[]string{"-f", mnist, "--namespace", "team-a"}, "the Service is in namespace kubeflow, not --namespace team-a"},
		{[]string{"-f", two}, "want one Service manifest, found 2 YAML documents"},
		{[]string{"-f", deploy}, `want a v1 Service, found apiVersion "apps/v1" kind "Deployment"`},
		{[]string{"-f", filepath.Join(dir, "missing.yaml")}, "no such file"},
		{nil, `required flag(s) "filename" not set`},
	} {
		_, _, err := runErr(t, append([]string{"kubeflow", "annotate"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("annotate %v: %v, want %q", c.args, err, c.want)
		}
	}
}

// TestKubeflowModels annotates model Services with the CLI, serves them with the shipped
// `kfgate serve --source file:DIR`, and lists the models through its diagnostics endpoint.
func TestKubeflowModels(t *testing.T) {
	src, dir := t.TempDir(), t.TempDir()
	files := map[string]string{
		"mnist.yaml": mnistService,
		"iris.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: sklearn-iris-predictor\n  namespace: kubeflow-user-example-com\n" +
			"  labels:\n    serving.kserve.io/inferenceservice: sklearn-iris\n    component: predictor\nspec:\n  ports:\n  - name: http\n    port: 80\n",
		"triton.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: triton-predictor\n  namespace: models\n  annotations:\n    kfgate.io/protocol: v2\n" +
			"  labels:\n    serving.kserve.io/inferenceservice: triton\n    component: predictor\nspec:\n  ports:\n  - name: http\n    port: 80\n",
	}
	for name, content := range files {
		out, stderr, code := run(t, "kubeflow", "annotate", "-f", writeFile(t, src, name, content))
		if code != 0 {
			t.Fatalf("annotate %s: exit %d: %s", name, code, stderr)
		}
		writeFile(t, dir, name, out)
	}
	writeFile(t, dir, "dashboard.yaml", "apiVersion: getambassador.io/v2\nkind: Mapping\nname: dashboard\nprefix: /\nservice: centraldashboard.kubeflow:80\n"+
		// Named like a generated Mapping but written by hand: not a model kfgate exposes.
		"---\napiVersion: getambassador.io/v2\nkind: Mapping\nname: model-fake-predict\nprefix: /models/fake/?\nprefix_regex: true\nservice: fake.kubeflow:80\n")

	diag := freeAddr(t)
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		cmd := newRootCommand()
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		cmd.SetArgs([]string{"serve", "--source", "file:" + dir, "--xds-address", "127.0.0.1:0", "--diagnostics-address", diag, "--log-level", "error"})
		done <- cmd.ExecuteContext(ctx)
	}()
	defer func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve ended with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	}()
	poll(t, "the diagnostics page serves the model routes", func() bool {
		body, code := get("http://" + diag + "/config.json")
		return code == http.StatusOK && strings.Contains(body, "model-triton-infer") && strings.Contains(body, "model-mnist-predict") &&
			strings.Contains(body, "model-sklearn-iris-predict")
	})

	out, stderr, code := run(t, "kubeflow", "models", "--diagnostics", "http://"+diag, "--gateway", "https://kf.example.com/")
	want := []string{
		"NAMESPACE                  MODEL         URL                                          CALLS                                     UPSTREAM",
		"kubeflow                   mnist         https://kf.example.com/models/mnist/         predict,classify,regress,status,metadata  kubeflow/mnist/8500",
		"kubeflow-user-example-com  sklearn-iris  https://kf.example.com/models/sklearn-iris/  predict,explain,status                    kubeflow-user-example-com/sklearn-iris-predictor/80",
		"models                     triton        https://kf.example.com/models/triton/        infer,ready,metadata                      models/triton-predictor/80",
	}
	if code != 0 || stderr != "" || out != strings.Join(want, "\n")+"\n" {
		t.Errorf("models: exit %d, stderr %q\n%s\nwant:\n%s", code, stderr, out, strings.Join(want, "\n"))
	}
	js, _, code := run(t, "kubeflow", "models", "--diagnostics", "http://"+diag+"/config.json", "-o", "json")
	var models []servedModel
	if err := json.Unmarshal([]byte(js), &models); code != 0 || err != nil || len(models) != 3 || !reflect.DeepEqual(models[0], servedModel{Namespace: "kubeflow",
		Model: "mnist", URL: "/models/mnist/", Calls: kubeflow.Calls(kubeflow.ProtocolTFServing), Upstream: "kubeflow/mnist/8500", Object: "Service kubeflow/mnist"}) {
		t.Errorf("models -o json: exit %d, %v\n%s", code, err, js)
	}
	if _, _, err := runErr(t, "kubeflow", "models", "--diagnostics", "http://"+diag+"/nope"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("a wrong diagnostics URL: %v", err)
	}
	if _, _, err := runErr(t, "kubeflow", "models", "--diagnostics", "http://"+freeAddr(t), "--timeout", "2s"); err == nil || !strings.Contains(err.Error(), "reading kfgate's diagnostics") {
		t.Errorf("no kfgate there: %v", err)
	}
	if _, _, err := runErr(t, "kubeflow", "models", "-o", "xml"); err == nil || !strings.Contains(err.Error(), "want table or json") {
		t.Errorf("-o xml: %v", err)
	}
}
