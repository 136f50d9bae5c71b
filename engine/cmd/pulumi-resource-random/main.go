// pulumi-resource-random: the offline build of the `random` provider for etcd-dr's tests and lab.
// The upstream provider module is not served by this machine's module proxy, so this implements
// the resources etcd-dr uses (RandomString, RandomPassword, RandomId, RandomPet) with the upstream
// tokens, property names and replace-on-any-change behaviour, using crypto/rand.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"strings"

	"etcd-dr/engine/internal/pluginkit"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/protobuf/types/known/emptypb"
)

// version is set at build time to the @pulumi/random version in package.json.
var version = "0.0.0"

const (
	tokenString   = "random:index/randomString:RandomString"
	tokenPassword = "random:index/randomPassword:RandomPassword"
	tokenID       = "random:index/randomId:RandomId"
	tokenPet      = "random:index/randomPet:RandomPet"
)

var inputNames = map[string][]string{
	tokenString:   {"keepers", "length", "lower", "minLower", "minNumeric", "minSpecial", "minUpper", "number", "numeric", "overrideSpecial", "special", "upper"},
	tokenPassword: {"keepers", "length", "lower", "minLower", "minNumeric", "minSpecial", "minUpper", "number", "numeric", "overrideSpecial", "special", "upper"},
	tokenID:       {"byteLength", "keepers", "prefix"},
	tokenPet:      {"keepers", "length", "prefix", "separator"},
}

type randomProvider struct {
	pluginkit.Base
}

func (p *randomProvider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	typ := pluginkit.ResourceType(req.GetUrn())
	if _, ok := inputNames[typ]; !ok {
		return nil, fmt.Errorf("%s is not implemented by etcd-dr's offline random provider (it has RandomString, RandomPassword, RandomId and RandomPet)", typ)
	}
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

// defaults are the values upstream's schema gives absent inputs; the state carries them, and a
// program that spells out a default does not change the resource.
var defaults = map[string]resource.PropertyMap{
	tokenString:   stringDefaults(),
	tokenPassword: stringDefaults(),
	tokenID:       {},
	tokenPet:      {"length": resource.NewNumberProperty(2), "separator": resource.NewStringProperty("-")},
}

func stringDefaults() resource.PropertyMap {
	return resource.PropertyMap{
		"lower": resource.NewBoolProperty(true), "upper": resource.NewBoolProperty(true),
		"numeric": resource.NewBoolProperty(true), "number": resource.NewBoolProperty(true),
		"special":  resource.NewBoolProperty(true),
		"minLower": resource.NewNumberProperty(0), "minUpper": resource.NewNumberProperty(0),
		"minNumeric": resource.NewNumberProperty(0), "minSpecial": resource.NewNumberProperty(0),
	}
}

// withDefaults returns the inputs with upstream's defaults filled in; `number` and `numeric` are
// one setting under two names, as in upstream.
func withDefaults(typ string, inputs resource.PropertyMap) resource.PropertyMap {
	out := pluginkit.OnlyInputs(inputs, inputNames[typ])
	for k, v := range defaults[typ] {
		if cur, has := out[k]; !has || cur.IsNull() {
			out[k] = v
		}
	}
	if typ == tokenString || typ == tokenPassword {
		_, hasNumber := inputs["number"]
		_, hasNumeric := inputs["numeric"]
		switch {
		case hasNumeric && !hasNumber:
			out["number"] = out["numeric"]
		case hasNumber && !hasNumeric:
			out["numeric"] = out["number"]
		}
	}
	return out
}

// Diff replaces on any input change, as every input of the upstream random resources forces a new
// value; inputs are compared with their defaults filled in.
func (p *randomProvider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	typ := pluginkit.ResourceType(req.GetUrn())
	olds, news, err := pluginkit.DiffInputs(req, inputNames[typ])
	if err != nil {
		return nil, err
	}
	return pluginkit.Diff(withDefaults(typ, olds), withDefaults(typ, news), func(string) bool { return true }), nil
}

func (p *randomProvider) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	typ := pluginkit.ResourceType(req.GetUrn())
	inputs, err := pluginkit.Unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	outputs := withDefaults(typ, inputs)
	id := "preview"
	if req.GetPreview() {
		for _, key := range computedKeys(typ) {
			outputs[resource.PropertyKey(key)] = resource.MakeComputed(resource.NewStringProperty(""))
		}
	} else {
		id, err = generate(typ, inputs, outputs)
		if err != nil {
			return nil, err
		}
	}
	props, err := pluginkit.Marshal(outputs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

func computedKeys(typ string) []string {
	switch typ {
	case tokenID:
		return []string{"hex", "b64Std", "b64Url", "dec"}
	case tokenPet:
		return nil
	case tokenPassword:
		return []string{"result", "bcryptHash"}
	default:
		return []string{"result"}
	}
}

func generate(typ string, inputs, outputs resource.PropertyMap) (string, error) {
	switch typ {
	case tokenString, tokenPassword:
		value, err := randomString(inputs)
		if err != nil {
			return "", err
		}
		if typ == tokenPassword {
			// Upstream's result and bcryptHash are sensitive: secrets in the state whatever the program says.
			hash, err := bcrypt.GenerateFromPassword([]byte(value), bcrypt.DefaultCost)
			if err != nil {
				return "", err
			}
			outputs["result"] = resource.MakeSecret(resource.NewStringProperty(value))
			outputs["bcryptHash"] = resource.MakeSecret(resource.NewStringProperty(string(hash)))
			return "none", nil
		}
		outputs["result"] = resource.NewStringProperty(value)
		return value, nil
	case tokenID:
		size := int(pluginkit.Number(inputs, "byteLength", 0))
		if size < 1 {
			return "", fmt.Errorf("byteLength must be at least 1")
		}
		raw := make([]byte, size)
		if _, err := rand.Read(raw); err != nil {
			return "", err
		}
		prefix, _ := pluginkit.String(inputs, "prefix")
		outputs["hex"] = resource.NewStringProperty(prefix + hex.EncodeToString(raw))
		outputs["b64Std"] = resource.NewStringProperty(prefix + base64.StdEncoding.EncodeToString(raw))
		outputs["b64Url"] = resource.NewStringProperty(prefix + base64.RawURLEncoding.EncodeToString(raw))
		outputs["dec"] = resource.NewStringProperty(prefix + new(big.Int).SetBytes(raw).String())
		// Upstream's id is the unprefixed URL-safe encoding; only the outputs carry the prefix.
		return base64.RawURLEncoding.EncodeToString(raw), nil
	case tokenPet:
		return pet(inputs)
	}
	return "", fmt.Errorf("unsupported type %s", typ)
}

const (
	lowerChars   = "abcdefghijklmnopqrstuvwxyz"
	upperChars   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	numericChars = "0123456789"
	specialChars = "!@#$%&*()-_=+[]{}<>:?"
)

func pick(alphabet string) (byte, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
	if err != nil {
		return 0, err
	}
	return alphabet[n.Int64()], nil
}

// randomString honours the character classes and their minimums, then shuffles so the
// guaranteed characters do not sit at the front.
func randomString(inputs resource.PropertyMap) (string, error) {
	length := int(pluginkit.Number(inputs, "length", 0))
	if length < 1 {
		return "", fmt.Errorf("length must be at least 1")
	}
	special := specialChars
	if override, ok := pluginkit.String(inputs, "overrideSpecial"); ok {
		special = override
	}
	numeric := pluginkit.Bool(inputs, "numeric", pluginkit.Bool(inputs, "number", true))
	classes := []struct {
		on       bool
		alphabet string
		min      int
	}{
		{pluginkit.Bool(inputs, "lower", true), lowerChars, int(pluginkit.Number(inputs, "minLower", 0))},
		{pluginkit.Bool(inputs, "upper", true), upperChars, int(pluginkit.Number(inputs, "minUpper", 0))},
		{numeric, numericChars, int(pluginkit.Number(inputs, "minNumeric", 0))},
		{pluginkit.Bool(inputs, "special", true), special, int(pluginkit.Number(inputs, "minSpecial", 0))},
	}
	var all strings.Builder
	var out []byte
	for _, c := range classes {
		if !c.on || c.alphabet == "" {
			continue
		}
		all.WriteString(c.alphabet)
		for i := 0; i < c.min; i++ {
			ch, err := pick(c.alphabet)
			if err != nil {
				return "", err
			}
			out = append(out, ch)
		}
	}
	if all.Len() == 0 {
		return "", fmt.Errorf("every character class is disabled")
	}
	for len(out) < length {
		ch, err := pick(all.String())
		if err != nil {
			return "", err
		}
		out = append(out, ch)
	}
	for i := len(out) - 1; i > 0; i-- {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			return "", err
		}
		out[i], out[j.Int64()] = out[j.Int64()], out[i]
	}
	return string(out[:length]), nil
}

var (
	adverbs    = []string{"boldly", "calmly", "deeply", "eagerly", "freely", "gently", "kindly", "lightly", "neatly", "openly", "quickly", "rarely", "simply", "truly", "warmly"}
	adjectives = []string{"amber", "brave", "clever", "daring", "early", "fancy", "golden", "happy", "ideal", "jolly", "lucky", "mellow", "noble", "proud", "quiet", "rapid", "steady", "tidy", "vivid", "witty"}
	animals    = []string{"badger", "crane", "dolphin", "falcon", "gecko", "heron", "ibex", "jaguar", "koala", "lynx", "marten", "narwhal", "otter", "puffin", "quail", "raven", "stoat", "tapir", "walrus", "yak"}
)

func pet(inputs resource.PropertyMap) (string, error) {
	length := int(pluginkit.Number(inputs, "length", 2))
	separator, ok := pluginkit.String(inputs, "separator")
	if !ok {
		separator = "-"
	}
	var words []string
	for i := 0; i < length; i++ {
		list := adjectives
		switch {
		case i == length-1:
			list = animals
		case i < length-2:
			list = adverbs
		}
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(list))))
		if err != nil {
			return "", err
		}
		words = append(words, list[n.Int64()])
	}
	if prefix, ok := pluginkit.String(inputs, "prefix"); ok && prefix != "" {
		words = append([]string{prefix}, words...)
	}
	return strings.Join(words, separator), nil
}

func (p *randomProvider) Update(context.Context, *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	return nil, fmt.Errorf("random resources are replaced, never updated")
}

func (p *randomProvider) Delete(context.Context, *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func main() {
	if err := provider.Main("random", func(*provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return &randomProvider{Base: pluginkit.Base{Version: version}}, nil
	}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
