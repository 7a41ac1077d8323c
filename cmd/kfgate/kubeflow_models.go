package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kfgate/kfgate/gateway/build"
	"github.com/kfgate/kfgate/gateway/diagnostics"
	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/kubeflow"
)

type modelsFlags struct {
	diagnostics, gateway, output string
	timeout                      time.Duration
}

func newKubeflowModelsCommand() *cobra.Command {
	var f modelsFlags
	cmd := &cobra.Command{
		Use:   "models [--diagnostics URL] [--gateway https://kf.example.com] [-o table|json]",
		Short: "List the models a running kfgate serves, with their URLs",
		Long: `models reads a running kfgate's diagnostics endpoint (/config.json) and lists every model served by
Mappings that kfgate's Kubeflow helper generated: namespace, model, URL, the calls it answers and the
upstream cluster. config.json does not say which annotation a Mapping came from, so models are found by
the generated Mappings' names (model-<model>-<call>); a hand-written Mapping named that way is listed too.
URLs are paths unless --gateway gives the address clients use.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return listModels(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.diagnostics, "diagnostics", "http://127.0.0.1:8877", "base URL of kfgate's diagnostics server (kfgate serve --diagnostics-address)")
	fl.StringVar(&f.gateway, "gateway", "", "the gateway's external base URL, prefixed to the paths (e.g. https://kf.example.com)")
	fl.StringVarP(&f.output, "output", "o", "table", "output format: table or json")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Second, "how long to wait for the diagnostics server")
	return cmd
}

// servedModel is one model as `models` prints it.
type servedModel struct {
	Namespace string   `json:"namespace"`
	Model     string   `json:"model"`
	URL       string   `json:"url"`
	Calls     []string `json:"calls"`
	Upstream  string   `json:"upstream"`
	Object    string   `json:"object"` // the Service carrying the Mappings
}

func listModels(cmd *cobra.Command, f modelsFlags) error {
	if f.output != "table" && f.output != "json" {
		return fmt.Errorf("--output %q: want table or json", f.output)
	}
	st, err := fetchState(cmd.Context(), f.diagnostics, f.timeout)
	if err != nil {
		return err
	}
	models := modelsOf(st.Report, strings.TrimSuffix(f.gateway, "/"))
	w := cmd.OutOrStdout()
	if f.output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(models)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tMODEL\tURL\tCALLS\tUPSTREAM")
	for _, m := range models {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.Namespace, m.Model, m.URL, strings.Join(m.Calls, ","), m.Upstream)
	}
	return tw.Flush()
}

func fetchState(ctx context.Context, base string, timeout time.Duration) (*diagnostics.State, error) {
	url := strings.TrimSuffix(base, "/")
	if !strings.HasSuffix(url, "/config.json") {
		url += "/config.json"
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("--diagnostics: %w", err)
	}
	resp, err := http.DefaultClient.Do(req) //nolint:gosec // G704: the URL of the user's own kfgate
	if err != nil {
		return nil, fmt.Errorf("reading kfgate's diagnostics: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("reading kfgate's diagnostics: %s answers %s", url, resp.Status)
	}
	var st diagnostics.State
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&st); err != nil {
		return nil, fmt.Errorf("reading kfgate's diagnostics: %s: %w", url, err)
	}
	if st.Report == nil {
		return nil, fmt.Errorf("reading kfgate's diagnostics: %s has no report", url)
	}
	return &st, nil
}

// modelsOf groups the generated Mappings that have routes by object, namespace and model.
func modelsOf(rep *build.Report, gateway string) []servedModel {
	var out []servedModel
	for _, o := range rep.Objects {
		byModel := map[string]*servedModel{}
		for _, d := range o.Documents {
			name, call, ok := kubeflow.SplitMappingName(d.Name)
			if d.Kind != mapping.KindMapping || d.Key != mapping.AnnotationGenerated || !ok || len(d.Routes) == 0 {
				continue
			}
			key := d.Namespace + "/" + name
			m := byModel[key]
			if m == nil {
				m = &servedModel{Namespace: d.Namespace, Model: name, Object: o.Object}
				byModel[key] = m
			}
			m.Calls = append(m.Calls, call)
			if path, ok := pathOfRoute(d.Routes[0]); ok && m.URL == "" {
				m.URL, m.Upstream = gateway+path, d.Routes[0].Target
			}
		}
		for _, m := range byModel {
			if m.URL != "" {
				out = append(out, *m)
			}
		}
	}
	slices.SortFunc(out, func(a, b servedModel) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Model, b.Model), cmp.Compare(a.Object, b.Object))
	})
	return out
}

// pathOfRoute reads the model's path from a route's match, "regex <prefix regex> :method=POST".
func pathOfRoute(r build.RouteReport) (string, bool) {
	expr, ok := strings.CutPrefix(r.Match, "regex ")
	if !ok {
		return "", false
	}
	expr, _, _ = strings.Cut(expr, " ")
	return kubeflow.PathOfPrefix(expr)
}
