package authn

import (
	"bytes"
	"embed"
	"html/template"
)

//go:embed pages/page.html
var pageFS embed.FS

// pages renders the small error pages: no scripts, no external assets, every value escaped.
type pages struct{ t *template.Template }

func newPages() *pages {
	return &pages{t: template.Must(template.ParseFS(pageFS, "pages/page.html"))}
}

func (p *pages) render(status int, pr Problem) string {
	var b bytes.Buffer
	data := struct {
		Status               int
		Title, Detail, Retry string
	}{status, pr.Title, pr.Detail, ""}
	if pr.Retry != "" {
		data.Retry = safeReturn(pr.Retry)
	}
	if err := p.t.Execute(&b, data); err != nil {
		return pr.Title // the template is fixed and its data plain strings: cannot fail
	}
	return b.String()
}
