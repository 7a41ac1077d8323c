package diagnostics

import "html/template"

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kfgate diagnostics</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em} h2{font-size:1.1em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.4em 0 1em} td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4} code{font-family:ui-monospace,monospace}
.error{color:#b00020;font-weight:600} .warning{color:#8a5a00} .info{color:#555}
.summary span{margin-right:1.2em}
</style></head><body>
<h1>kfgate diagnostics</h1>
<p class="summary"><span>snapshot <code>{{if .Version}}{{.Version}}{{else}}none yet{{end}}</code></span>
<span>updated {{.Updated.Format "2006-01-02 15:04:05 MST"}}</span>
{{with .Report.Summary}}<span>{{.Objects}} objects</span><span>{{.Mappings}} mappings</span><span>{{.Routes}} routes</span>
<span>{{.Clusters}} clusters</span><span class="error">{{.Errors}} errors</span><span class="warning">{{.Warnings}} warnings</span>{{end}}</p>
{{if .LastError}}<p class="error">The last build was not published, the previous snapshot keeps serving: {{.LastError}}</p>{{end}}
<p><a href="config.json">config.json</a> · <a href="metrics">metrics</a></p>
{{range .Report.Objects}}
<h2>{{.Object}}</h2>
{{if .Documents}}<table><tr><th>document</th><th>virtual host</th><th>match</th><th>rewrite</th><th>target</th></tr>
{{range .Documents}}{{$d := .}}{{if .Routes}}{{range .Routes}}<tr><td>{{$d.Kind}} <code>{{$d.Namespace}}/{{$d.Name}}</code></td>
<td><code>{{.VirtualHost}}</code></td><td><code>{{.Match}}</code></td><td><code>{{.Rewrite}}</code></td><td><code>{{.Target}}</code></td></tr>
{{end}}{{else}}<tr><td>{{.Kind}} <code>{{.Namespace}}/{{.Name}}</code></td><td colspan="4">no routes</td></tr>{{end}}{{end}}</table>{{end}}
{{if .Diagnostics}}<table><tr><th>where</th><th>document</th><th>field</th><th>severity</th><th>message</th></tr>
{{range .Diagnostics}}<tr><td><code>{{.Location}}</code></td><td>{{.DocKind}} <code>{{.DocName}}</code></td><td><code>{{.Field}}</code></td>
<td class="{{.Severity}}">{{.Severity}}</td><td>{{.Message}}</td></tr>
{{end}}</table>{{end}}
{{else}}<p>No source objects.</p>{{end}}
</body></html>
`))
