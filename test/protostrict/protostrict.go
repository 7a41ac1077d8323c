// Package protostrict walks a protobuf message and refuses every populated field that is not on an
// allowlist: the strictness of the route evaluator (test/routeeval) and of the Envoy stand-in
// (test/envoystandin), so that neither can pass a test by silently ignoring configuration.
package protostrict

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"
)

// Rule says how the walk treats a populated field on the allowlist.
type Rule int

const (
	// Descend allows the field; message values (list items, map values, Any contents) are walked too.
	Descend Rule = iota
	// Opaque allows the field as a whole; its content is not walked (the code that reads it checks it).
	Opaque
)

// Allowlist is a set of allowed fields and Any types.
type Allowlist struct {
	fields  map[protoreflect.FullName]Rule
	anys    map[string]bool
	missing string // what an unknown field "is not": "modelled by the evaluator", ...
}

// New returns an empty allowlist; missing completes "<field> is not ..." in errors.
func New(missing string) *Allowlist {
	return &Allowlist{fields: map[protoreflect.FullName]Rule{}, anys: map[string]bool{}, missing: missing}
}

// Allow adds fields of the message with the given full name.
func (a *Allowlist) Allow(rule Rule, message string, fields ...string) {
	for _, f := range fields {
		a.fields[protoreflect.FullName(message+"."+f)] = rule
	}
}

// AllowAny lets an Any hold these message types (their fields are walked).
func (a *Allowlist) AllowAny(msgs ...proto.Message) {
	for _, m := range msgs {
		a.anys["type.googleapis.com/"+string(m.ProtoReflect().Descriptor().FullName())] = true
	}
}

// Verify checks that every entry names a real field or type: a typo would refuse a field silently.
func (a *Allowlist) Verify() error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(a.fields)) {
		i := strings.LastIndexByte(string(name), '.')
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(name[:i])
		md, ok := d.(protoreflect.MessageDescriptor)
		switch {
		case err != nil || !ok:
			errs = append(errs, fmt.Errorf("%s: no such message", name))
		case md.Fields().ByName(protoreflect.Name(name[i+1:])) == nil:
			errs = append(errs, fmt.Errorf("%s: no such field", name))
		}
	}
	for url := range a.anys {
		if _, err := protoregistry.GlobalTypes.FindMessageByURL(url); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", url, err))
		}
	}
	return errors.Join(errs...)
}

// Check walks every populated field of m and fails on the first one not allowed, naming it by its
// path below path and by its full proto name. An Any is unpacked, checked against its own
// constraints (ValidateAll, as Envoy checks every typed config) and walked.
func (a *Allowlist) Check(m protoreflect.Message, path string) error {
	if m.Descriptor().FullName() == "google.protobuf.Any" {
		return a.checkAny(m.Interface().(*anypb.Any), path)
	}
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		err = a.checkField(fd, v, JoinPath(path, string(fd.Name())))
		return err == nil
	})
	return err
}

func (a *Allowlist) checkField(fd protoreflect.FieldDescriptor, v protoreflect.Value, path string) error {
	rule, ok := a.fields[fd.FullName()]
	switch {
	case !ok:
		return fmt.Errorf("%s (%s) is not %s", path, fd.FullName(), a.missing)
	case rule != Descend:
		return nil
	case fd.IsMap():
		if fd.MapValue().Message() == nil {
			return nil
		}
		var err error
		v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
			err = a.Check(mv.Message(), path+"["+k.String()+"]")
			return err == nil
		})
		return err
	case fd.Message() == nil:
		return nil
	case fd.IsList():
		list := v.List()
		for i := 0; i < list.Len(); i++ {
			if err := a.Check(list.Get(i).Message(), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		return nil
	default:
		return a.Check(v.Message(), path)
	}
}

func (a *Allowlist) checkAny(x *anypb.Any, path string) error {
	if !a.anys[x.GetTypeUrl()] {
		return fmt.Errorf("%s: type %s is not %s", path, x.GetTypeUrl(), a.missing)
	}
	inner, err := x.UnmarshalNew()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if v, ok := inner.(interface{ ValidateAll() error }); ok {
		if err := v.ValidateAll(); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	name := string(inner.ProtoReflect().Descriptor().Name())
	return a.Check(inner.ProtoReflect(), path+"<"+name+">")
}

// JoinPath appends a field name to a path.
func JoinPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}
