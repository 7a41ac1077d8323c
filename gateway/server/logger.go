package server

import (
	"fmt"

	cplog "github.com/envoyproxy/go-control-plane/pkg/log"
	"github.com/go-logr/logr"
)

// cacheLogger adapts logr to go-control-plane's printf-style logger.
// go-control-plane logs every watch and response at debug/info, so those
// map to verbosity 2/1 and are only formatted when enabled; warnings are
// shown by default.
type cacheLogger struct{ log logr.Logger }

var _ cplog.Logger = cacheLogger{}

func (l cacheLogger) at(level int, format string, args []any) {
	if v := l.log.V(level); v.Enabled() {
		v.Info(fmt.Sprintf(format, args...), "source", "go-control-plane")
	}
}

// Debugf implements cplog.Logger.
func (l cacheLogger) Debugf(format string, args ...any) { l.at(2, format, args) }

// Infof implements cplog.Logger.
func (l cacheLogger) Infof(format string, args ...any) { l.at(1, format, args) }

// Warnf implements cplog.Logger.
func (l cacheLogger) Warnf(format string, args ...any) { l.at(0, format, args) }

// Errorf implements cplog.Logger.
func (l cacheLogger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Errorf(format, args...), "go-control-plane error")
}
