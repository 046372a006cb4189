package rpc

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// TestDelayedConn: what is written reaches the other end no sooner than one way's delay,
// and answers take as long back; bytes arrive whole and in order; closing the connection
// ends a Read waiting on it.
func TestDelayedConn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // echo
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, c)
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	const oneWay = 40 * time.Millisecond
	c := newDelayedConn(raw, func() time.Duration { return oneWay })

	var sent []byte
	start := time.Now()
	for i := 0; i < 200; i++ {
		msg := bytes.Repeat([]byte{byte(i)}, 1+i*37)
		sent = append(sent, msg...)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]byte, len(sent))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if rtt := time.Since(start); rtt < 2*oneWay {
		t.Fatalf("the echo came back after %s, before a round trip of %s", rtt, 2*oneWay)
	}
	if !bytes.Equal(got, sent) {
		t.Fatal("the echo differs from what was sent")
	}

	read := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		read <- err
	}()
	time.Sleep(10 * time.Millisecond)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-read:
		if err == nil {
			t.Fatal("a Read on a closed connection returned no error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("closing the connection did not end a waiting Read")
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("a Write after Close: %v, want net.ErrClosed", err)
	}
}
