package main

import (
	"fmt"

	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func levelOf(s string) (zapcore.Level, error) {
	switch s {
	case "debug":
		return zapcore.Level(-1), nil // logr V(1)
	case "info", "":
		return zapcore.InfoLevel, nil
	case "error":
		return zapcore.ErrorLevel, nil
	}
	return 0, fmt.Errorf("--log-level %q: want debug, info or error", s)
}

// newLogger returns a logr.Logger writing JSON lines to stderr through zap.
func newLogger(level string) (logr.Logger, error) {
	lvl, err := levelOf(level)
	if err != nil {
		return logr.Logger{}, err
	}
	cfg := zap.NewProductionConfig()
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.Sampling = nil
	z, err := cfg.Build()
	if err != nil {
		return logr.Logger{}, err
	}
	return zapr.NewLogger(z), nil
}
