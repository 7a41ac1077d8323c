package server

import (
	"errors"
	"fmt"
	"regexp"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"
)

// validator is implemented by every generated Envoy API message
// (protoc-gen-validate); ValidateAll reports all violations, not just the first.
type validator interface{ ValidateAll() error }

// deterministic encoding sorts map entries, so equal messages encode equally.
var deterministic = proto.MarshalOptions{Deterministic: true}

const regexMatcherName protoreflect.FullName = "envoy.type.matcher.v3.RegexMatcher"

// canonicalize walks m (which it mutates; pass a copy) and for each
// google.protobuf.Any inside it:
//   - validates the packed message: ValidateAll stops at Any boundaries, so
//     an HttpConnectionManager inside a Listener is otherwise never checked;
//   - re-encodes it deterministically: anypb.New encodes maps in random
//     order, which would give equal config different bytes and so a new
//     version and a needless push on every Publish.
//
// It also compiles every RegexMatcher, because PGV only checks the regex is
// non-empty and Envoy NACKs the whole RouteConfiguration over one bad regex.
func canonicalize(m protoreflect.Message) error {
	switch m.Descriptor().FullName() {
	case "google.protobuf.Any":
		return canonicalizeAny(m)
	case regexMatcherName:
		if err := checkRegex(m); err != nil {
			return err
		}
	}
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		err = canonicalizeField(fd, v)
		if err != nil {
			err = fmt.Errorf("%s: %w", fd.Name(), err)
		}
		return err == nil
	})
	return err
}

func canonicalizeField(fd protoreflect.FieldDescriptor, v protoreflect.Value) error {
	switch {
	case fd.IsList():
		if fd.Message() == nil {
			return nil
		}
		list := v.List()
		for i := range list.Len() {
			if err := canonicalize(list.Get(i).Message()); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
	case fd.IsMap():
		if fd.MapValue().Message() == nil {
			return nil
		}
		var err error
		v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
			if err = canonicalize(mv.Message()); err != nil {
				err = fmt.Errorf("[%v]: %w", k.Interface(), err)
			}
			return err == nil
		})
		return err
	case fd.Message() != nil:
		return canonicalize(v.Message())
	}
	return nil
}

// canonicalizeAny validates and re-encodes the message packed in an Any.
// Types not linked into this binary are left as opaque bytes: Envoy may know
// extensions we do not, and rejecting them here would be wrong.
func canonicalizeAny(m protoreflect.Message) error {
	a, ok := m.Interface().(*anypb.Any)
	if !ok {
		return nil
	}
	inner, err := a.UnmarshalNew()
	if errors.Is(err, protoregistry.NotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", a.GetTypeUrl(), err)
	}
	if v, ok := inner.(validator); ok {
		if err := v.ValidateAll(); err != nil {
			return fmt.Errorf("%s: %w", a.GetTypeUrl(), err)
		}
	}
	if err := canonicalize(inner.ProtoReflect()); err != nil {
		return fmt.Errorf("%s: %w", a.GetTypeUrl(), err)
	}
	b, err := deterministic.Marshal(inner)
	if err != nil {
		return fmt.Errorf("%s: %w", a.GetTypeUrl(), err)
	}
	a.Value = b
	return nil
}

// checkRegex compiles a RegexMatcher's pattern. Go's regexp implements RE2
// syntax, which is what Envoy uses.
func checkRegex(m protoreflect.Message) error {
	fd := m.Descriptor().Fields().ByName("regex")
	if fd == nil {
		return nil
	}
	pattern := m.Get(fd).String()
	if _, err := regexp.Compile(pattern); err != nil {
		return fmt.Errorf("invalid regex %q: %w", pattern, err)
	}
	return nil
}
