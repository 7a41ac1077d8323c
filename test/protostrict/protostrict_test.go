package protostrict

import (
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

func TestCheck(t *testing.T) {
	a := New("allowed here")
	a.Allow(Descend, "envoy.config.core.v3.HeaderValueOption", "header", "keep_empty_value")
	a.Allow(Descend, "envoy.config.core.v3.HeaderValue", "key")
	ok := &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: "k"}, KeepEmptyValue: true}
	if err := a.Check(ok.ProtoReflect(), "h"); err != nil {
		t.Errorf("allowed fields refused: %v", err)
	}
	deep := &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: "k", Value: "v"}}
	if err := a.Check(deep.ProtoReflect(), "h"); err == nil || !strings.Contains(err.Error(), "h.header.value (envoy.config.core.v3.HeaderValue.value) is not allowed here") {
		t.Errorf("an unlisted nested field: %v", err)
	}
	packed, err := anypb.New(ok)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Check(packed.ProtoReflect(), "x"); err == nil || !strings.Contains(err.Error(), "type type.googleapis.com/envoy.config.core.v3.HeaderValueOption is not allowed here") {
		t.Errorf("an unlisted Any type: %v", err)
	}
	a.AllowAny(&corev3.HeaderValueOption{})
	if err := a.Check(packed.ProtoReflect(), "x"); err != nil {
		t.Errorf("an allowed Any: %v", err)
	}
	if err := a.Verify(); err != nil {
		t.Errorf("real fields: %v", err)
	}
	a.Allow(Descend, "envoy.config.core.v3.HeaderValue", "kee")
	if err := a.Verify(); err == nil || !strings.Contains(err.Error(), "HeaderValue.kee: no such field") {
		t.Errorf("a typo: %v", err)
	}
}
