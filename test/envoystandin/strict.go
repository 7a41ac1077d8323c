package envoystandin

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/kfgate/kfgate/test/protostrict"
)

// The walk's rules (allow.go): implemented and walked, implemented and read as a whole by the code
// that uses it (a Struct access log format, a RouteConfiguration's per-filter configs, which
// routeeval leaves as they are), or inert: recorded, no effect here, each use saying why.
const (
	descend = protostrict.Descend
	opaque  = protostrict.Opaque
	inert   = protostrict.Opaque
)

// allowed lists every field and Any type the stand-in implements.
var allowed = protostrict.New("implemented by the Envoy stand-in")

func allow(rule protostrict.Rule, message string, fields ...string) {
	allowed.Allow(rule, message, fields...)
}

func allowAny(msgs ...proto.Message) { allowed.AllowAny(msgs...) }

// checkStrict walks every populated field of m and fails on the first one not in allowed, naming
// it by its path and full proto name; each Any is unpacked, validated and walked.
func checkStrict(m protoreflect.Message, path string) error { return allowed.Check(m, path) }

// validated checks a whole resource: its own proto constraints, then strictness.
func validated(m proto.Message, what string) error {
	if v, ok := m.(interface{ ValidateAll() error }); ok {
		if err := v.ValidateAll(); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	if err := checkStrict(m.ProtoReflect(), ""); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// unpack decodes a typed config the walk already accepted, requiring its type.
func unpack[T proto.Message](a *anypb.Any, into T, path string) (T, error) {
	if err := a.UnmarshalTo(into); err != nil {
		var zero T
		return zero, fmt.Errorf("%s: want %s: %w", path, into.ProtoReflect().Descriptor().FullName(), err)
	}
	return into, nil
}

// typeName is the message name a type URL names.
func typeName(url string) string { return url[strings.LastIndexByte(url, '/')+1:] }
