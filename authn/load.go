package authn

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// EnvPrefix prefixes every setting's environment variable: oidc.issuer is KFGATE_AUTHN_OIDC_ISSUER.
const EnvPrefix = "KFGATE_AUTHN"

// flagKeys maps kfgate authn's flags to the settings they set.
var flagKeys = map[string]string{
	"grpc-address": "grpcAddress",
	"http-address": "httpAddress",
	"log-level":    "logLevel",
}

// RegisterFlags adds kfgate authn's flags.
func RegisterFlags(f *pflag.FlagSet) {
	d := Defaults()
	f.String("config", "", "YAML configuration file (see docs/authn.md)")
	f.String("grpc-address", d.GRPCAddress, "address of the ext_authz gRPC server (also grpc.health.v1 and reflection)")
	f.String("http-address", d.HTTPAddress, "address of the HTTP server: /healthz, /readyz, /metrics")
	f.String("log-level", d.LogLevel, "log level: debug, info or error")
	f.Bool("insecure-cookies", false, "drop the Secure flag (and the __Host- prefix) from cookies: only for plain-HTTP development")
}

// Load reads the configuration: defaults, then the --config file, then KFGATE_AUTHN_* variables,
// then flags. Unknown keys are errors; so is any invalid value (Validate).
func Load(flags *pflag.FlagSet, getenv func(string) string) (Config, error) {
	v := viper.New()
	setDefaults(v, "", reflect.ValueOf(Defaults()))
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	for name, key := range flagKeys {
		if f := flags.Lookup(name); f != nil && f.Changed {
			if err := v.BindPFlag(key, f); err != nil {
				return Config{}, err
			}
		}
	}
	file, _ := flags.GetString("config")
	if file == "" && getenv != nil {
		file = getenv(EnvPrefix + "_CONFIG")
	}
	if file != "" {
		v.SetConfigFile(file)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return Config{}, fmt.Errorf("reading %s: %w", file, err)
		}
	}
	var cfg Config
	hook := viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		jsonStringHook, mapstructure.StringToTimeDurationHookFunc(), mapstructure.StringToSliceHookFunc(",")))
	if err := v.UnmarshalExact(&cfg, hook); err != nil {
		return cfg, fmt.Errorf("configuration: %w", err)
	}
	if insecure, _ := flags.GetBool("insecure-cookies"); insecure {
		cfg.Session.Secure = false
	}
	return cfg, cfg.Validate()
}

// setDefaults registers every setting (with its default), so that each can also come from the
// environment: viper only looks up variables for keys it knows.
func setDefaults(v *viper.Viper, prefix string, val reflect.Value) {
	t := val.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		key := f.Tag.Get("mapstructure")
		if key == "" || key == "-" {
			continue
		}
		if prefix != "" {
			key = prefix + "." + key
		}
		fv := val.Field(i)
		if fv.Kind() == reflect.Struct && fv.Type() != reflect.TypeOf(time.Time{}) {
			setDefaults(v, key, fv)
			continue
		}
		v.SetDefault(key, fv.Interface())
	}
}

// jsonStringHook lets a list of objects (skipAuth, bearer.issuers) come from one environment
// variable as JSON.
func jsonStringHook(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to.Kind() != reflect.Slice || to.Elem().Kind() != reflect.Struct {
		return data, nil
	}
	s, _ := data.(string)
	if strings.TrimSpace(s) == "" {
		return reflect.MakeSlice(to, 0, 0).Interface(), nil
	}
	out := reflect.New(to)
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out.Interface()); err != nil {
		return nil, errors.New("want a JSON list of objects: " + err.Error())
	}
	return out.Elem().Interface(), nil
}
