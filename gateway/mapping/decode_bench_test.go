package mapping

import "testing"

func BenchmarkDecodeKubeflowAnnotation(b *testing.B) {
	text := `---
apiVersion: ambassador/v0
kind: Mapping
name: predict-1
prefix: /models/model-1/
rewrite: /v1/models/model-1:predict
method: POST
service: model-1:8500
---
apiVersion: ambassador/v0
kind: Mapping
name: status-1
prefix: /models/model-1/
rewrite: /v1/models/model-1
method: GET
service: model-1:8500
timeout_ms: 10000
`
	src := Source{Kind: "Service", Namespace: "ns", Name: "svc", Key: AnnotationAmbassador}
	b.ReportAllocs()
	for b.Loop() {
		Decode(src, text, Options{})
	}
}
