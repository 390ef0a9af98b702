package oracle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Policy is the compiled policy module, evaluated as policy-server evaluates it: compiled once, a fresh
// instance for every request, the request handed over through waPC's `validate` operation.
type Policy struct {
	runtime  wazero.Runtime
	compiled wazero.CompiledModule
	host     Host
}

// Host answers the policy's host calls (binding, namespace, operation, payload) other than logging, as
// policy-server answers them; an error is handed to the policy as the call's failure.
type Host func(ctx context.Context, binding, namespace, operation string, payload []byte) ([]byte, error)

// Response is Kubewarden's ValidationResponse.
type Response struct {
	Accepted         bool              `json:"accepted"`
	Message          *string           `json:"message"`
	Code             *uint16           `json:"code"`
	MutatedObject    json.RawMessage   `json:"mutated_object"`
	Warnings         []string          `json:"warnings"`
	AuditAnnotations map[string]string `json:"audit_annotations"`
}

// call is the waPC exchange of one request: what the guest asks for and what it answers.
type call struct {
	operation, payload []byte
	response, failure  []byte
	host               Host
	hostResponse       []byte
	hostError          []byte
}

type callKey struct{}

// LoadPolicy compiles the module at path and links the waPC and WASI host functions it imports. Its
// host calls are refused, as the offline kwctl refuses them, unless WithHost gives it a host.
func LoadPolicy(ctx context.Context, path string) (*Policy, error) {
	module, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the policy: %w", err)
	}
	// Closed when a call's context is done, so that a caller can bound an evaluation as policy-server
	// does.
	runtime := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(true))
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, runtime); err != nil {
		return nil, err
	}
	if err := linkWapc(ctx, runtime); err != nil {
		return nil, err
	}
	compiled, err := runtime.CompileModule(ctx, module)
	if err != nil {
		return nil, fmt.Errorf("compiling the policy: %w", err)
	}
	return &Policy{runtime: runtime, compiled: compiled}, nil
}

// WithHost is the policy answered by host for its host calls.
func (p *Policy) WithHost(host Host) *Policy {
	answered := *p
	answered.host = host
	return &answered
}

// Close frees the runtime and everything compiled in it.
func (p *Policy) Close(ctx context.Context) error { return p.runtime.Close(ctx) }

// Validate evaluates one AdmissionRequest with the given settings.
func (p *Policy) Validate(ctx context.Context, request, settings any) (Response, error) {
	payload, err := json.Marshal(map[string]any{"request": request, "settings": settings})
	if err != nil {
		return Response{}, err
	}
	answer, err := p.invoke(ctx, "validate", payload)
	if err != nil {
		return Response{}, err
	}
	var response Response
	if err := json.Unmarshal(answer, &response); err != nil {
		return Response{}, fmt.Errorf("the policy's answer is not a ValidationResponse: %w", err)
	}
	return response, nil
}

// ValidateSettings is policy-server's check of the settings when it loads the policy: nil when they are
// valid, else the policy's message.
func (p *Policy) ValidateSettings(ctx context.Context, settings any) error {
	payload, err := json.Marshal(settings)
	if err != nil {
		return err
	}
	answer, err := p.invoke(ctx, "validate_settings", payload)
	if err != nil {
		return err
	}
	var verdict struct {
		Valid   bool   `json:"valid"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(answer, &verdict); err != nil {
		return fmt.Errorf("the policy's answer is not a SettingsValidationResponse: %w", err)
	}
	if !verdict.Valid {
		return errors.New(verdict.Message)
	}
	return nil
}

func (p *Policy) invoke(ctx context.Context, operation string, payload []byte) ([]byte, error) {
	exchange := &call{operation: []byte(operation), payload: payload, host: p.host}
	ctx = context.WithValue(ctx, callKey{}, exchange)
	// A cdylib built for WASI is a reactor: `_initialize` runs its constructors, `wapc_init` registers
	// the waPC handlers. Missing start functions are skipped.
	config := wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize", "wapc_init")
	instance, err := p.runtime.InstantiateModule(ctx, p.compiled, config)
	if err != nil {
		return nil, fmt.Errorf("starting the policy: %w", err)
	}
	defer func() { _ = instance.Close(ctx) }()
	guestCall := instance.ExportedFunction("__guest_call")
	if guestCall == nil {
		return nil, errors.New("the policy exports no __guest_call")
	}
	results, err := guestCall.Call(ctx, uint64(len(exchange.operation)), uint64(len(exchange.payload)))
	if err != nil {
		return nil, fmt.Errorf("the policy trapped: %w", err)
	}
	if len(results) != 1 || results[0] != 1 {
		return nil, fmt.Errorf("the policy failed: %s", exchange.failure)
	}
	return exchange.response, nil
}

func exchangeOf(ctx context.Context) *call {
	exchange, _ := ctx.Value(callKey{}).(*call)
	if exchange == nil {
		panic("a waPC host function ran outside a call")
	}
	return exchange
}

func read(module api.Module, ptr, length uint32) []byte {
	bytes, ok := module.Memory().Read(ptr, length)
	if !ok {
		panic("the policy pointed outside its memory")
	}
	return append([]byte(nil), bytes...)
}

func write(module api.Module, ptr uint32, bytes []byte) {
	if !module.Memory().Write(ptr, bytes) {
		panic("the policy pointed outside its memory")
	}
}

// linkWapc defines the host side of waPC (wapc.io's protocol): the guest reads the request, writes its
// answer or error, and may call the host, which answers logging, and the rest when it has a Host.
func linkWapc(ctx context.Context, runtime wazero.Runtime) error {
	host := runtime.NewHostModuleBuilder("wapc")
	host.NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, opPtr, msgPtr uint32) {
		exchange := exchangeOf(ctx)
		write(m, opPtr, exchange.operation)
		write(m, msgPtr, exchange.payload)
	}).Export("__guest_request")
	host.NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, ptr, length uint32) {
		exchangeOf(ctx).response = read(m, ptr, length)
	}).Export("__guest_response")
	host.NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, ptr, length uint32) {
		exchangeOf(ctx).failure = read(m, ptr, length)
	}).Export("__guest_error")
	host.NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module,
		bindingPtr, bindingLen, nsPtr, nsLen, opPtr, opLen, payloadPtr, payloadLen uint32) uint32 {
		binding, namespace := read(m, bindingPtr, bindingLen), read(m, nsPtr, nsLen)
		operation := read(m, opPtr, opLen)
		if string(binding) == "kubewarden" && string(namespace) == "tracing" && string(operation) == "log" {
			return 1
		}
		exchange := exchangeOf(ctx)
		if exchange.host == nil {
			exchange.hostError = fmt.Appendf(nil, "host capability %s/%s/%s is not available offline",
				binding, namespace, operation)
			return 0
		}
		answer, err := exchange.host(ctx, string(binding), string(namespace), string(operation),
			read(m, payloadPtr, payloadLen))
		if err != nil {
			exchange.hostError = []byte(err.Error())
			return 0
		}
		exchange.hostResponse = answer
		return 1
	}).Export("__host_call")
	host.NewFunctionBuilder().WithFunc(func(ctx context.Context) uint32 {
		return uint32(len(exchangeOf(ctx).hostResponse))
	}).Export("__host_response_len")
	host.NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, ptr uint32) {
		write(m, ptr, exchangeOf(ctx).hostResponse)
	}).Export("__host_response")
	host.NewFunctionBuilder().WithFunc(func(ctx context.Context) uint32 {
		return uint32(len(exchangeOf(ctx).hostError))
	}).Export("__host_error_len")
	host.NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, ptr uint32) {
		write(m, ptr, exchangeOf(ctx).hostError)
	}).Export("__host_error")
	host.NewFunctionBuilder().WithFunc(func(context.Context, api.Module, uint32, uint32) {}).Export("__console_log")
	_, err := host.Instantiate(ctx)
	return err
}
