package envoystandin

import (
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

// fieldRule says how the strictness walk treats a populated field.
type fieldRule int

const (
	// descend: implemented; message values are walked too (Any values unpacked).
	descend fieldRule = iota
	// opaque: implemented, its content checked by the code that reads it (a Struct access log
	// format, a RouteConfiguration's per-filter configs, which routeeval leaves as they are).
	opaque
	// inert: recorded, no effect here; every use says why in allow.go.
	inert
)

// allowed lists every field the stand-in implements, by full proto name.
var allowed = map[protoreflect.FullName]fieldRule{}

// anyTypes lists the type URLs an Any may hold, anywhere.
var anyTypes = map[string]bool{}

func allow(rule fieldRule, message string, fields ...string) {
	for _, f := range fields {
		allowed[protoreflect.FullName(message+"."+f)] = rule
	}
}

func allowAny(msgs ...proto.Message) {
	for _, m := range msgs {
		anyTypes["type.googleapis.com/"+string(m.ProtoReflect().Descriptor().FullName())] = true
	}
}

// checkStrict walks every populated field of m and fails on the first one not in allowed, naming
// it by its path and full proto name. Each Any is unpacked, checked against its own constraints
// (ValidateAll, as Envoy checks every typed config) and walked.
func checkStrict(m protoreflect.Message, path string) error {
	if m.Descriptor().FullName() == "google.protobuf.Any" {
		return checkAny(m.Interface().(*anypb.Any), path)
	}
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		err = checkField(fd, v, joinPath(path, string(fd.Name())))
		return err == nil
	})
	return err
}

func checkField(fd protoreflect.FieldDescriptor, v protoreflect.Value, path string) error {
	rule, ok := allowed[fd.FullName()]
	if !ok {
		return fmt.Errorf("%s (%s) is not implemented by the Envoy stand-in", path, fd.FullName())
	}
	switch {
	case rule != descend:
		return nil
	case fd.IsMap():
		if fd.MapValue().Message() == nil {
			return nil
		}
		var err error
		v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
			err = checkStrict(mv.Message(), path+"["+k.String()+"]")
			return err == nil
		})
		return err
	case fd.Message() == nil:
		return nil
	case fd.IsList():
		list := v.List()
		for i := 0; i < list.Len(); i++ {
			if err := checkStrict(list.Get(i).Message(), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		return nil
	default:
		return checkStrict(v.Message(), path)
	}
}

func checkAny(a *anypb.Any, path string) error {
	if !anyTypes[a.GetTypeUrl()] {
		return fmt.Errorf("%s: type %s is not implemented by the Envoy stand-in", path, a.GetTypeUrl())
	}
	inner, err := a.UnmarshalNew()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if v, ok := inner.(interface{ ValidateAll() error }); ok {
		if err := v.ValidateAll(); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	name := string(inner.ProtoReflect().Descriptor().Name())
	return checkStrict(inner.ProtoReflect(), path+"<"+name+">")
}

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

func joinPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// typeName is the message name a type URL names.
func typeName(url string) string { return url[strings.LastIndexByte(url, '/')+1:] }
