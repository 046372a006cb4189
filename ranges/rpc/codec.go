package rpc

import (
	"encoding"
	"fmt"

	"google.golang.org/grpc/mem"
)

// codecName is sent as the content subtype ("application/grpc+meridian").
const codecName = "meridian"

// Message is what every RPC request and response is.
type Message interface {
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

// codec is the gRPC codec for Messages.
type codec struct{}

func (codec) Name() string { return codecName }

func (codec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(Message)
	if !ok {
		return nil, fmt.Errorf("rpc: %T is not an rpc.Message", v)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (codec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(Message)
	if !ok {
		return fmt.Errorf("rpc: %T is not an rpc.Message", v)
	}
	// Materialize copies: the message may keep slices of its input after gRPC frees data.
	return m.UnmarshalBinary(data.Materialize())
}
