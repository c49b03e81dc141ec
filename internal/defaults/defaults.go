package defaults

import "reflect"

// Fill returns v with each exported, comparable field that is zero (as
// cmp.Or judges it: -0.0 is zero, NaN is not) set to that field of
// defaults. T must be a struct; other fields (slices, maps, funcs) are
// left as they are.
func Fill[T any](v, defaults T) T {
	fields, def := reflect.ValueOf(&v).Elem(), reflect.ValueOf(defaults)
	for i := range fields.NumField() {
		f := fields.Field(i)
		if f.CanSet() && f.Comparable() && f.Equal(reflect.Zero(f.Type())) {
			f.Set(def.Field(i))
		}
	}
	return v
}
