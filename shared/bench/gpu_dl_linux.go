package bench

import "github.com/ebitengine/purego"

// cudaLibrary is the CUDA driver library every Linux NVIDIA driver installs;
// the versioned name, because the unversioned one comes only with the
// toolkit's development files.
const cudaLibrary = "libcuda.so.1"

// openLibrary loads lib and returns its symbol lookup. The handle is never
// closed: unloading the CUDA driver while its threads run is not safe, and
// it is loaded once per process anyway (dlopen counts references).
func openLibrary(lib string) (func(name string) (uintptr, error), error) {
	h, err := purego.Dlopen(lib, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, err
	}
	return func(name string) (uintptr, error) { return purego.Dlsym(h, name) }, nil
}
