package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

// storeMethods calls every method of sendoka.Store on s with ctx and arguments that make it
// reach the database (no empty lists it could answer without asking), and returns each
// method's error by name. InTx gets a callback that does nothing.
func storeMethods(ctx context.Context, s sendoka.Store) map[string]error {
	out := map[string]error{}
	st := reflect.TypeFor[sendoka.Store]()
	sv := reflect.ValueOf(s)
	for i := range st.NumMethod() {
		m := st.Method(i)
		args := make([]reflect.Value, m.Type.NumIn())
		for j := range args {
			args[j] = argument(ctx, m.Type.In(j))
		}
		call := sv.MethodByName(m.Name).Call
		if m.Type.IsVariadic() {
			call = sv.MethodByName(m.Name).CallSlice // the last argument is the slice itself
		}
		res := call(args)
		err, _ := res[len(res)-1].Interface().(error)
		out[m.Name] = err
	}
	return out
}

// argument is a value of type t for storeMethods: ctx for a context, one element for a
// slice, "x" for a string, 1 for a number, a do-nothing func, the zero value otherwise.
func argument(ctx context.Context, t reflect.Type) reflect.Value {
	if t == reflect.TypeFor[context.Context]() {
		return reflect.ValueOf(ctx)
	}
	v := reflect.New(t).Elem()
	switch t.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Int, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint8:
		v.SetUint('x')
	case reflect.Slice:
		v = reflect.Append(v, argument(ctx, t.Elem()))
	case reflect.Func:
		v = reflect.MakeFunc(t, func([]reflect.Value) []reflect.Value {
			out := make([]reflect.Value, t.NumOut())
			for i := range out {
				out[i] = reflect.Zero(t.Out(i))
			}
			return out
		})
	}
	return v
}

// testDeadlinePassed: a call whose deadline has passed is CodeUnavailable with a retry
// hint, from every method: the database did not answer in time.
func testDeadlinePassed(t *testing.T, b *bundle) {
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	for name, err := range storeMethods(ctx, b.store) {
		require.Error(t, err, name)
		require.Equal(t, sendoka.CodeUnavailable, sendoka.ErrorCode(err), "%s: %v", name, err)
		e := sendoka.AsError(err)
		require.Positive(t, e.RetryAfterSeconds, name)
		require.LessOrEqual(t, e.RetryAfterSeconds, 5, name)
	}
}

// testCallerCancelled: a call its caller cancelled fails, but not as CodeUnavailable: the
// caller went away, the database did not.
func testCallerCancelled(t *testing.T, b *bundle) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, err := range storeMethods(ctx, b.store) {
		require.Error(t, err, name)
		require.NotEqual(t, sendoka.CodeUnavailable, sendoka.ErrorCode(err), "%s: %v", name, err)
	}
}
