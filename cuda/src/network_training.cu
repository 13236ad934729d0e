#include <algorithm>
#include <span>
#include <stdexcept>

#include "spikey/cuda/cuda_check.cuh"
#include "spikey/cuda/network_training.hpp"
#include "codecs/mo/gru_training.hpp"

namespace spikey::cuda {

namespace f = spikey::format;
using host::ReluLayout;

namespace {

constexpr int kThreads = static_cast<int>(host::kReluBatch);  // one per sample of a batch
static_assert(whole_warps<kThreads> && whole_warps<static_cast<int>(host::kGruBatch)>, "training blocks must hold whole warps");
constexpr std::uint32_t kMaxParameters = f::kMaxNetHidden * (f::kNetInputs + 2) + 1;

// Device memory of one run.
template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(std::size_t count) { SPIKEY_CUDA_TRY(cudaMalloc(&data_, std::max<std::size_t>(count, 1) * sizeof(T))); }
  ~DeviceArray() { cudaFree(data_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  T* get() const { return data_; }
  void upload(const T* host, std::size_t count) { SPIKEY_CUDA_TRY(cudaMemcpy(data_, host, count * sizeof(T), cudaMemcpyHostToDevice)); }
  void download(T* host, std::size_t count) const { SPIKEY_CUDA_TRY(cudaMemcpy(host, data_, count * sizeof(T), cudaMemcpyDeviceToHost)); }

 private:
  T* data_ = nullptr;
};

// The whole run in one block (batches are sequential: each Adam step needs the last). Per batch:
// the batch's weights into shared memory; thread i runs sample i forward (its pre-activations
// and activations to `pre`/`act`, kThreads x hidden); then thread k sums parameter k's terms
// over the batch's samples in order and takes its Adam step. The same functions, in the same
// order, as train_relu_epochs_on_cpu.
__global__ void relu_epochs_kernel(ReluLayout layout, const float* x, const float* y, const std::uint32_t* order, std::uint32_t count,
                                   int epochs, float rate, bool quantized, const float* corrections, float* params, float* m, float* v,
                                   float* pre, float* act) {
  __shared__ float batch[kMaxParameters];
  __shared__ float output_gradient[kThreads];
  __shared__ std::uint32_t sample[kThreads];
  const std::uint32_t size = layout.size();
  const std::uint32_t hidden = layout.hidden;
  const auto tid = static_cast<std::uint32_t>(threadIdx.x);
  std::uint64_t step = 0;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    const std::uint32_t* epoch_order = order + static_cast<std::size_t>(epoch) * count;
    for (std::uint32_t start = 0; start < count; start += kThreads, ++step) {
      for (std::uint32_t k = tid; k < size; k += kThreads) batch[k] = host::batch_weight(params[k], layout.unit(k), quantized);
      __syncthreads();
      const std::uint32_t n = min(count - start, static_cast<std::uint32_t>(kThreads));
      const float scale = 1.0f / static_cast<float>(n);
      if (tid < n) {
        const std::uint32_t s = epoch_order[start + tid];
        sample[tid] = s;
        const float out = host::relu_forward(layout, batch, x + std::size_t{s} * f::kNetInputs, quantized, pre + tid * hidden, act + tid * hidden);
        output_gradient[tid] = host::l1_output_gradient(out, y[s], scale);
      }
      __syncthreads();
      for (std::uint32_t k = tid; k < size; k += kThreads) {
        float gradient = 0.0f, term = 0.0f;
        for (std::uint32_t i = 0; i < n; ++i)
          if (host::relu_gradient_term(layout, k, output_gradient[i], batch, pre + i * hidden, act + i * hidden,
                                       x + std::size_t{sample[i]} * f::kNetInputs, term))
            gradient += term;
        host::adam_update(m[k], v[k], params[k], gradient, rate, layout.limit(k), corrections[2 * step], corrections[2 * step + 1]);
      }
      __syncthreads();  // the parameters are updated before the next batch reads them
    }
  }
}

constexpr std::uint32_t kMaxGruParameters =
    3 * f::kMaxGruHidden * (f::kNetInputs + f::kMaxGruHidden + 1) + f::kMaxGruHidden + 1;

// The GRU's whole run in one block of kGruBatch threads. Per batch: the batch's weights into
// shared memory; thread w runs window w forward and back into its own gradient buffer; then
// thread k sums parameter k over the windows in order and takes its Adam step. The same
// functions, in the same order, as train_gru_epochs_on_cpu.
__global__ void gru_epochs_kernel(host::GruLayout layout, const float* x, const float* y, const std::uint32_t* order, std::uint32_t windows,
                                  int epochs, float rate, bool quantized, const float* corrections, float* params, float* m, float* v,
                                  float* window_gradient, float* scratch) {
  __shared__ float batch[kMaxGruParameters];
  const std::uint32_t size = layout.size();
  const auto tid = static_cast<std::uint32_t>(threadIdx.x);
  std::uint64_t step = 0;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    const std::uint32_t* epoch_order = order + static_cast<std::size_t>(epoch) * windows;
    for (std::uint32_t start = 0; start < windows; start += host::kGruBatch, ++step) {
      for (std::uint32_t k = tid; k < size; k += host::kGruBatch) batch[k] = host::batch_weight(params[k], layout.unit(k), quantized);
      __syncthreads();
      const std::uint32_t count = min(windows - start, host::kGruBatch);
      const float scale = 1.0f / static_cast<float>(count * (host::kGruWindow - host::kGruWarmup));
      if (tid < count) {
        const std::size_t w = epoch_order[start + tid];
        host::gru_window_gradient(layout, batch, x + w * host::kGruWindow * f::kNetInputs, y + w * host::kGruWindow, scale, quantized,
                                  scratch + std::size_t{tid} * layout.scratch_size(), window_gradient + std::size_t{tid} * size);
      }
      __syncthreads();
      for (std::uint32_t k = tid; k < size; k += host::kGruBatch) {
        float gradient = 0.0f;
        for (std::uint32_t w = 0; w < count; ++w) gradient += window_gradient[std::size_t{w} * size + k];
        host::adam_update(m[k], v[k], params[k], gradient, rate, layout.limit(k), corrections[2 * step], corrections[2 * step + 1]);
      }
      __syncthreads();  // the parameters are updated before the next batch reads them
    }
  }
}

// Adam's bias corrections of steps 1..steps, from the host's pow (as the CPU trainers compute them).
std::vector<float> adam_corrections(std::uint64_t steps) {
  std::vector<float> corrections(2 * steps);
  for (std::uint64_t s = 0; s < steps; ++s) {
    corrections[2 * s] = host::adam_correction(0.9f, s + 1);
    corrections[2 * s + 1] = host::adam_correction(0.999f, s + 1);
  }
  return corrections;
}

// What both trainers put on the device: the run's inputs, targets and epoch orders, Adam's
// corrections for `steps` steps and its zeroed moments, and the parameters.
struct DeviceRun {
  DeviceArray<float> x, y, corrections, params, m, v;
  DeviceArray<std::uint32_t> order;

  DeviceRun(std::span<const float> host_x, std::span<const float> host_y, std::span<const std::uint32_t> host_order, std::uint64_t steps,
            const std::vector<float>& parameters)
      : x(host_x.size()), y(host_y.size()), corrections(2 * steps), params(parameters.size()), m(parameters.size()), v(parameters.size()),
        order(host_order.size()) {
    const auto host_corrections = adam_corrections(steps);
    const std::vector<float> zeros(parameters.size(), 0.0f);
    x.upload(host_x.data(), host_x.size());
    y.upload(host_y.data(), host_y.size());
    order.upload(host_order.data(), host_order.size());
    corrections.upload(host_corrections.data(), host_corrections.size());
    params.upload(parameters.data(), parameters.size());
    m.upload(zeros.data(), zeros.size());
    v.upload(zeros.data(), zeros.size());
  }
};

void require_device() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) throw std::runtime_error("no CUDA device for network training");
  SPIKEY_CUDA_TRY(cudaSetDevice(0));
}

// Times a kernel launch with CUDA events and waits for it.
template <class Launch>
double timed(Launch&& launch) {
  cudaEvent_t started = nullptr, finished = nullptr;
  SPIKEY_CUDA_TRY(cudaEventCreate(&started));
  SPIKEY_CUDA_TRY(cudaEventCreate(&finished));
  float milliseconds = 0;
  cudaError_t status = cudaEventRecord(started);
  if (status == cudaSuccess) {
    launch();
    status = cudaGetLastError();
  }
  if (status == cudaSuccess) status = cudaEventRecord(finished);
  if (status == cudaSuccess) status = cudaEventSynchronize(finished);
  if (status == cudaSuccess) status = cudaEventElapsedTime(&milliseconds, started, finished);
  cudaEventDestroy(started);
  cudaEventDestroy(finished);
  SPIKEY_CUDA_TRY(status);
  return milliseconds / 1000.0;
}

}  // namespace

void train_gru_epochs_on_gpu(const host::GruEpochs& run, std::vector<float>& parameters, double* kernel_seconds) {
  const host::GruLayout layout = run.layout;
  const std::size_t windows = run.y.size() / host::kGruWindow;
  const std::uint32_t size = layout.size();
  if (layout.hidden == 0 || layout.hidden > static_cast<std::uint32_t>(f::kMaxGruHidden) || parameters.size() != size ||
      run.y.size() != windows * host::kGruWindow || run.x.size() != run.y.size() * f::kNetInputs ||
      run.order.size() != windows * static_cast<std::size_t>(run.epochs) || windows > 0xffffffffu)
    throw std::invalid_argument("train_gru_epochs_on_gpu: inconsistent training run");
  require_device();
  if (windows == 0 || run.epochs <= 0) return;
  DeviceRun device(run.x, run.y, run.order, static_cast<std::uint64_t>(run.epochs) * ((windows + host::kGruBatch - 1) / host::kGruBatch), parameters);
  DeviceArray<float> window_gradient(std::size_t{host::kGruBatch} * size), scratch(std::size_t{host::kGruBatch} * layout.scratch_size());
  const double seconds = timed([&] {
    gru_epochs_kernel<<<1, host::kGruBatch>>>(layout, device.x.get(), device.y.get(), device.order.get(), static_cast<std::uint32_t>(windows),
                                              run.epochs, run.rate, run.quantized, device.corrections.get(), device.params.get(),
                                              device.m.get(), device.v.get(), window_gradient.get(), scratch.get());
  });
  if (kernel_seconds) *kernel_seconds = seconds;
  device.params.download(parameters.data(), size);
}

void train_relu_epochs_on_gpu(const host::ReluEpochs& run, std::vector<float>& parameters, double* kernel_seconds) {
  const ReluLayout layout = run.layout;
  const std::size_t count = run.y.size();
  const std::uint32_t size = layout.size();
  if (layout.hidden == 0 || layout.hidden > static_cast<std::uint32_t>(f::kMaxNetHidden) || parameters.size() != size ||
      run.x.size() != count * f::kNetInputs || run.order.size() != count * static_cast<std::size_t>(run.epochs) || count > 0xffffffffu)
    throw std::invalid_argument("train_relu_epochs_on_gpu: inconsistent training run");
  require_device();
  if (count == 0 || run.epochs <= 0) return;
  DeviceRun device(run.x, run.y, run.order, static_cast<std::uint64_t>(run.epochs) * ((count + host::kReluBatch - 1) / host::kReluBatch), parameters);
  DeviceArray<float> pre(host::kReluBatch * layout.hidden), act(host::kReluBatch * layout.hidden);
  const double seconds = timed([&] {
    relu_epochs_kernel<<<1, kThreads>>>(layout, device.x.get(), device.y.get(), device.order.get(), static_cast<std::uint32_t>(count), run.epochs,
                                        run.rate, run.quantized, device.corrections.get(), device.params.get(), device.m.get(), device.v.get(),
                                        pre.get(), act.get());
  });
  if (kernel_seconds) *kernel_seconds = seconds;
  device.params.download(parameters.data(), size);
}

}  // namespace spikey::cuda
