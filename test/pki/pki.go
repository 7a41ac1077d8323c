// Package pki holds fixed test certificates (ECDSA P-256, valid until 2125 unless named expired),
// signed by a test CA that is not a real CA. The keys are test keys: never use them anywhere else.
//
//	ca.crt                    the CA
//	example.{crt,key}         example.com, a.example.com, *.b.example.com
//	example-renewed.{crt,key} the same names, a new key (a renewal)
//	expired.{crt,key}         old.example.com, expired 2020-01-01
//	upstream.{crt,key}        api.internal.example.com
//	other.key                 a key matching no certificate
package pki

import (
	"embed"
	"path"
)

//go:embed *.crt *.key
var files embed.FS

// File returns one fixture's PEM; it panics on an unknown name (a test bug).
func File(name string) []byte {
	b, err := files.ReadFile(path.Clean(name))
	if err != nil {
		panic(err)
	}
	return b
}
