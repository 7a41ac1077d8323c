package kubeflow

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestParseTemplate(t *testing.T) {
	for _, c := range []struct{ in, err string }{
		{"/models/{name}/", ""},
		{"/{name}/", ""},
		{"/models/{namespace}/{name}/", ""},
		{"/serving/v1/{name}/{namespace}/", ""},
		{"", `must start and end with "/"`},
		{"/", `must start and end with "/"`},
		{"models/{name}/", `must start and end with "/"`},
		{"/models/{name}", `must start and end with "/"`},
		{"/models/{model}/", "unknown placeholder {model}: only {name} and {namespace}"},
		{"/models/{name}-v1/", "a placeholder must be a whole segment"},
		{"/models//{name}/", `empty segment`},
		{"/models/../{name}/", "dot segment (..)"},
		{"/models/{namespace}/", "lacks {name}"},
		{"/{name}/{name}/", "{name} more than once"},
		{"/{namespace}/{namespace}/{name}/", "{namespace} more than once"},
		{"/my models/{name}/", "may hold only letters"},
		{"/models/{name}/?x=1/", "may hold only letters"},
	} {
		tm, err := ParseTemplate(c.in)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("ParseTemplate(%q): %v", c.in, err)
		case c.err == "" && tm.String() != c.in:
			t.Errorf("ParseTemplate(%q).String() = %q", c.in, tm.String())
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("ParseTemplate(%q): %v, want an error containing %q", c.in, err, c.err)
		case c.err != "":
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "template" || fe.Value != c.in {
				t.Errorf("ParseTemplate(%q): %#v is not a FieldError on template", c.in, err)
			}
		}
	}
	for in, want := range map[string]string{
		DefaultTemplate:               NamespacedTemplate,
		"/serving/{name}/predict/":    "/serving/{namespace}/{name}/predict/",
		"/{namespace}/models/{name}/": "/{namespace}/models/{name}/",
	} {
		tm, err := ParseTemplate(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := tm.Namespaced().String(); got != want {
			t.Errorf("%s.Namespaced() = %s, want %s", in, got, want)
		}
	}
	if (Template{}).Path("ns", "m") != "/models/m/" {
		t.Error("the zero Template must be the default")
	}
}

// TestAssignOrder: the paths depend on the models, not on the order they are listed in.
func TestAssignOrder(t *testing.T) {
	day := func(d int) metav1.Time { return created(&corev1.Service{}, d).CreationTimestamp }
	models := []Model{
		{Name: "mnist", Namespace: "a", Service: "mnist", Port: 8500, Protocol: ProtocolTFServing, Created: day(3).Time},
		{Name: "mnist", Namespace: "b", Service: "mnist", Port: 8500, Protocol: ProtocolTFServing, Created: day(1).Time},
		{Name: "mnist", Namespace: "b", Service: "mnist-2", Port: 8500, Protocol: ProtocolTFServing, Created: day(2).Time},
		{Name: "mnist", Namespace: "c", Service: "mnist", Port: 8500, Protocol: ProtocolTFServing, Created: day(1).Time},
		{Name: "mnist", Namespace: "d", Service: "grpc", Protocol: ProtocolGRPC, Created: day(0).Time},
		{Name: "other", Namespace: "a", Service: "other", Port: 80, Protocol: ProtocolKServeV1},
	}
	want := map[string]string{"a/mnist": "/models/a/mnist/", "b/mnist": "/models/mnist/", "b/mnist-2": "", "c/mnist": "/models/c/mnist/", "d/grpc": "", "a/other": "/models/other/"}
	perm := slices.Clone(models)
	for range len(models) {
		perm = append(perm[1:], perm[0])
		slices.Reverse(perm[2:])
		for _, a := range Assign(perm, Template{}) {
			if a.Path != want[a.Model.Key()] {
				t.Errorf("%s: path %q, want %q (conflict %q)", a.Model.Key(), a.Path, want[a.Model.Key()], a.Conflict)
			}
			if (a.Conflict != "") != (a.Model.Key() == "a/mnist" || a.Model.Key() == "b/mnist-2" || a.Model.Key() == "c/mnist") {
				t.Errorf("%s: conflict %q", a.Model.Key(), a.Conflict)
			}
		}
	}
}

func TestGenerateRejects(t *testing.T) {
	ok := Model{Kind: KindTFServing, Name: "mnist", Namespace: "kubeflow", Service: "mnist", Port: 8500, Protocol: ProtocolTFServing}
	long := strings.Repeat("x", 63)
	for _, c := range []struct {
		name  string
		edit  func(*Model)
		path  string
		field string
	}{
		{"not exposed", func(m *Model) { m.Protocol = ProtocolGRPC }, "/models/mnist/", "protocol"},
		{"no port", func(m *Model) { m.Port = 0 }, "/models/mnist/", "port"},
		{"no namespace", func(m *Model) { m.Namespace = "" }, "/models/mnist/", "service"},
		{"bad name", func(m *Model) { m.Name = "a/b" }, "/models/mnist/", "model name"},
		{"empty path", func(*Model) {}, "", "path"},
		{"path without slash", func(*Model) {}, "/models/mnist", "path"},
		{"path with a regex", func(*Model) {}, "/models/(.*)/", "path"},
		{"path too long", func(*Model) {}, "/" + long + "/" + long + "/" + long + "/", "path"},
	} {
		m := ok
		c.edit(&m)
		_, err := Generate(m, c.path, GenerateOptions{})
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: %v, want a FieldError on %s", c.name, err, c.field)
		}
	}
	if _, err := Generate(ok, "/models/mnist/", GenerateOptions{}); err != nil {
		t.Errorf("valid model: %v", err)
	}
}

// TestRecogniseOddServices: odd but possible input gives a verdict or an error, never a panic.
func TestRecogniseOddServices(t *testing.T) {
	if _, err := Recognise(nil, nil, Options{}); err == nil {
		t.Error("Recognise(nil) must fail")
	}
	svc := service("ns", "mnist", nil, port("http-tf-serving", 8500))
	if _, err := Recognise(svc, nil, Options{ModelName: "no/slash"}); err == nil || !strings.Contains(err.Error(), "model name") {
		t.Errorf("a bad Options.ModelName: %v", err)
	}
	odd := []*corev1.Service{
		{},
		{Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{}, {Name: "tf-serving"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "x", Labels: map[string]string{LabelInferenceService: ""}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "-predictor", Labels: kserveLabels("")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "p-predictor", Labels: kserveLabels("p")}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName}},
		{ObjectMeta: metav1.ObjectMeta{Name: "p-predictor", Labels: kserveLabels("p")}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "grpc", Port: 9000}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "s", Labels: map[string]string{KeyModelServer: "tf-serving"}},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "s"}, Ports: []corev1.ServicePort{{Name: "http", Port: 70000, TargetPort: intstr.FromString("nope")}}}},
	}
	pods := []corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{"app": "s"}}, Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "a", Command: []string{"tensorflow_model_server"}, Args: []string{"--model_name", "--rest_api_port"}},
		}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "q", Labels: map[string]string{"app": "s"}}, Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "b", Image: "@", Args: []string{"sh", "-c", "tensorflow_model_server"}},
			{Name: "c", Image: "tensorflow/serving:", Env: []corev1.EnvVar{{Name: "MODEL_NAME", ValueFrom: &corev1.EnvVarSource{}}}},
		}}},
	}
	for i, svc := range odd {
		rec, err := Recognise(svc, pods, Options{})
		if err == nil && rec.Exposed() {
			if _, err := Generate(*rec.Model, Template{}.Path(rec.Model.Namespace, rec.Model.Name), GenerateOptions{}); err != nil {
				t.Logf("odd Service %d: %v", i, err)
			}
		}
		t.Logf("odd Service %d: %s %v %v", i, rec.Status, rec.Reasons, err)
	}
}

func TestExpandIsOnePass(t *testing.T) {
	env := map[string]string{"MODEL_NAME": "mnist", "A": "$(B)", "B": "x"}
	got := expand([]string{"--model_name=$(MODEL_NAME)", "$(A)", "$$(MODEL_NAME)", "$(UNSET)", "$(", "cost: 5$"}, env)
	want := []string{"--model_name=mnist", "$(B)", "$(MODEL_NAME)", "$(UNSET)", "$(", "cost: 5$"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("expand(%d) = %q, want %q", i, got[i], want[i])
		}
	}
	// A chain that doubles at every step stays bounded: the token is left as it was.
	chain := map[string]string{}
	for i := range 40 {
		chain[fmt.Sprintf("V%02d", i)] = fmt.Sprintf("$(V%02d)$(V%02d)", i+1, i+1)
	}
	big := strings.Repeat("$(V00)", 1000)
	if out := expand([]string{big}, chain)[0]; len(out) > maxExpanded && out != big {
		t.Fatalf("expansion grew to %d bytes", len(out))
	}
}

// A fallback path inside another model's API is not served: it would capture that model's calls.
func TestAssignDropsPathsInAnotherModelsAPI(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	models := []Model{
		{Kind: KindTFServing, Name: "mnist", Namespace: "team", Service: "mnist", Port: 8500, Protocol: ProtocolTFServing, Created: t0},
		{Kind: KindTFServing, Name: "classify", Namespace: "other", Service: "c", Port: 8500, Protocol: ProtocolTFServing, Created: t0},
		{Kind: KindTFServing, Name: "classify", Namespace: "mnist", Service: "c", Port: 8500, Protocol: ProtocolTFServing, Created: t0.Add(time.Hour)},
	}
	tmpl, _ := ParseTemplate(DefaultTemplate)
	got := Assign(models, tmpl)
	if got[0].Path != "/models/mnist/" || got[1].Path != "/models/classify/" {
		t.Fatalf("primary paths: %+v", got)
	}
	if got[2].Path != "" || !strings.Contains(got[2].Conflict, "lies in the API") {
		t.Fatalf("mnist/classify: path %q conflict %q", got[2].Path, got[2].Conflict)
	}
}

func TestTemplateTenantSpace(t *testing.T) {
	for tmpl, want := range map[string]string{
		DefaultTemplate: "/models/", NamespacedTemplate: "/models/{namespace}/", "/{namespace}/serving/{name}/": "/{namespace}/serving/",
		"/serving/{name}/v1/": "/serving/", "/{name}/": "/",
	} {
		tp, err := ParseTemplate(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		if got := tp.TenantSpace(); got != want {
			t.Errorf("%s: %q, want %q", tmpl, got, want)
		}
		// Every path the template and its fallback give lies in the space.
		space := strings.ReplaceAll(want, "{namespace}", "team-a")
		for _, p := range []string{tp.Path("team-a", "mnist"), tp.Namespaced().Path("team-a", "mnist")} {
			if !strings.HasPrefix(p, space) {
				t.Errorf("%s: path %s outside %s", tmpl, p, space)
			}
		}
	}
}
