package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	yaml "go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	k8syaml "sigs.k8s.io/yaml"

	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/gateway/source"
	"github.com/kfgate/kfgate/kubeflow"
)

func newKubeflowCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kubeflow",
		Short: "Model servers at /models/<name>/: annotate a Service offline, list the models a kfgate serves",
		Long: `kubeflow holds the Kubeflow helpers. kfgate recognises TF Serving and KServe predictor Services and
serves every model at /models/<name>/ (POST predicts, GET reports its status); kfgate serve also
routes every Kubeflow notebook at /notebook/<namespace>/<name>/ (--kubeflow-notebooks). See docs/kubeflow.md.

  kfgate kubeflow annotate -f mnist-service.yaml > annotated.yaml    for GitOps, without the controller
  kfgate kubeflow models --diagnostics http://127.0.0.1:8877         the models a running kfgate serves`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newKubeflowAnnotateCommand(), newKubeflowModelsCommand())
	return cmd
}

type annotateFlags struct {
	file, modelName, template, namespace, id string
}

func newKubeflowAnnotateCommand() *cobra.Command {
	var f annotateFlags
	cmd := &cobra.Command{
		Use:   "annotate -f SERVICE.yaml [--model-name NAME] [--template /models/{name}/]",
		Short: "Print a model server's Service with the kfgate.io/generated-config annotation added",
		Long: `annotate reads one Service manifest, recognises the model server behind it (TF Serving by Kubeflow's port
names or the kfgate.io/model-server label, a KServe predictor by KServe's labels) and prints the same
manifest with the annotation kfgate.io/generated-config set to the Mappings that serve the model at
the template's path. Every other field, annotation and comment is kept. Offline, annotate sees no pods:
what the controller learns from tensorflow_model_server's flags must be in port names, in
kfgate.io/model-name and kfgate.io/rest-port, or in --model-name.

Exit status 1, with the reasons on stderr, when the Service is not a model server kfgate exposes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return annotate(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.file, "filename", "f", "", "the Service manifest (YAML, one document)")
	fl.StringVar(&f.modelName, "model-name", "", "the model's name (default: kfgate.io/model-name, else the InferenceService's or the Service's name)")
	fl.StringVar(&f.template, "template", kubeflow.DefaultTemplate, "path template: {name} and {namespace} as whole segments, e.g. "+kubeflow.NamespacedTemplate)
	fl.StringVarP(&f.namespace, "namespace", "n", "", "the Service's namespace when the manifest has none (default: default, as kfgate's file source)")
	fl.StringVar(&f.id, "id", "default", "ambassador_id of the installation that serves the Mappings")
	_ = cmd.MarkFlagRequired("filename") // cannot fail: the flag was just defined
	return cmd
}

func annotate(cmd *cobra.Command, f annotateFlags) error {
	tmpl, err := kubeflow.ParseTemplate(f.template)
	if err != nil {
		return fmt.Errorf("--template: %w", err)
	}
	doc, svc, err := readServiceFile(f.file)
	if err != nil {
		return err
	}
	switch {
	case svc.Namespace != "" && f.namespace != "" && svc.Namespace != f.namespace:
		return fmt.Errorf("%s: the Service is in namespace %s, not --namespace %s", f.file, svc.Namespace, f.namespace)
	case svc.Namespace == "" && f.namespace != "":
		svc.Namespace = f.namespace
	case svc.Namespace == "":
		svc.Namespace = "default"
		fmt.Fprintf(cmd.ErrOrStderr(), "%s: the Service has no namespace: assuming default (set --namespace)\n", f.file)
	}
	who := fmt.Sprintf("%s: Service %s/%s", f.file, svc.Namespace, svc.Name)
	if owner, ok := kubeflow.NotebookOwner(svc); ok {
		// Notebooks come and go with their users: the controller routes them, reading their Notebook.
		fmt.Fprintf(cmd.ErrOrStderr(), "%s is Kubeflow Notebook %s's Service, not a model server: kfgate serve (--kubeflow-notebooks) routes it at /notebook/%s/%s/ itself\n",
			who, owner.Name, svc.Namespace, owner.Name)
		return exitError{code: 1}
	}
	rec, err := kubeflow.Recognise(svc, nil, kubeflow.Options{ModelName: f.modelName})
	if err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "%s: %v\n", who, err)
		return exitError{code: 1}
	}
	if !rec.Exposed() {
		fmt.Fprintf(cmd.ErrOrStderr(), "%s is not a model server kfgate exposes (%s):\n", who, rec.Status)
		for _, r := range rec.Reasons {
			fmt.Fprintf(cmd.ErrOrStderr(), "  - %s\n", r)
		}
		return exitError{code: 1}
	}
	m := *rec.Model
	path := tmpl.Path(m.Namespace, m.Name)
	text, err := kubeflow.Generate(m, path, kubeflow.GenerateOptions{ID: f.id})
	if err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "%s: %v\n", who, err)
		return exitError{code: 1}
	}
	setAnnotation(doc, mapping.AnnotationGenerated, text)
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	if _, err := cmd.OutOrStdout().Write(out.Bytes()); err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%s: model %s (%s) at %s, upstream %s.%s:%d\n", who, m.Name, m.Protocol, path, m.Service, m.Namespace, m.Port)
	return nil
}

// readServiceFile reads a file holding exactly one v1 Service: its YAML tree (to edit and print
// back, comments and field order kept) and the Service.
func readServiceFile(file string) (*yaml.Node, *corev1.Service, error) {
	data, err := readLimited(file)
	if err != nil {
		return nil, nil, err
	}
	var docs []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", file, err)
		}
		if len(n.Content) > 0 {
			docs = append(docs, &n)
		}
	}
	if len(docs) != 1 || docs[0].Content[0].Kind != yaml.MappingNode {
		return nil, nil, fmt.Errorf("%s: want one Service manifest, found %d YAML documents", file, len(docs))
	}
	raw, err := yaml.Marshal(docs[0])
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	var svc corev1.Service
	if err := k8syaml.Unmarshal(raw, &svc); err != nil {
		return nil, nil, fmt.Errorf("%s: not a Service: %w", file, err)
	}
	if svc.APIVersion != "v1" || svc.Kind != "Service" {
		return nil, nil, fmt.Errorf("%s: want a v1 Service, found apiVersion %q kind %q", file, svc.APIVersion, svc.Kind)
	}
	return docs[0], &svc, nil
}

func readLimited(file string) ([]byte, error) {
	st, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	if st.Size() > source.MaxFileBytes {
		return nil, fmt.Errorf("%s: %d bytes is more than the limit of %d", file, st.Size(), source.MaxFileBytes)
	}
	return os.ReadFile(file) //nolint:gosec // G304: reading the file the user named is the point
}

// setAnnotation sets metadata.annotations[key] in a manifest's YAML tree, as a literal block, adding
// metadata and annotations if missing and leaving everything else as it was.
func setAnnotation(doc *yaml.Node, key, value string) {
	metadata := mappingChild(doc.Content[0], "metadata")
	annotations := mappingChild(metadata, "annotations")
	val := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value, Style: yaml.LiteralStyle}
	for i := 0; i+1 < len(annotations.Content); i += 2 {
		if annotations.Content[i].Value == key {
			annotations.Content[i+1] = val
			return
		}
	}
	annotations.Content = append(annotations.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, val)
}

// mappingChild returns m[key], making it an empty mapping if it is missing or null.
func mappingChild(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != key {
			continue
		}
		if v := m.Content[i+1]; v.Kind != yaml.MappingNode {
			m.Content[i+1] = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		}
		return m.Content[i+1]
	}
	v := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
	return v
}
