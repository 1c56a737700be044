package bench

import "golang.org/x/sys/windows"

// cudaLibrary is the CUDA driver library the NVIDIA display driver installs
// in System32.
const cudaLibrary = "nvcuda.dll"

// openLibrary loads lib from System32 only, never from the current or the
// application's directory, where a planted DLL of the same name would run
// with the agent's rights. The handle is never freed: unloading the CUDA
// driver while its threads run is not safe.
func openLibrary(lib string) (func(name string) (uintptr, error), error) {
	h, err := windows.LoadLibraryEx(lib, 0, windows.LOAD_LIBRARY_SEARCH_SYSTEM32)
	if err != nil {
		return nil, err
	}
	return func(name string) (uintptr, error) { return windows.GetProcAddress(h, name) }, nil
}
