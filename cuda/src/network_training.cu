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

// Each sample's row of a batch in relu_epochs_kernel's dynamic shared memory: its
// pre-activations and activations, padded to an odd length so that a warp's 32 samples storing
// one unit hit 32 banks.
SPIKEY_HD constexpr std::uint32_t relu_row(std::uint32_t hidden) { return hidden | 1u; }
std::size_t relu_shared_bytes(std::uint32_t hidden) {
  return (2 * std::size_t{kThreads} * relu_row(hidden) + std::size_t{kThreads} * f::kNetInputs) * sizeof(float);
}

// The whole run in one block (batches are sequential: each Adam step needs the last). Per batch:
// the batch's weights into shared memory; thread i runs sample i forward in registers and keeps
// its inputs, pre-activations and activations in shared memory, then loads the next batch's
// sample (its latency hidden behind the sums); then thread k sums parameter k's terms over the
// batch's samples in order, from shared memory only, and takes its Adam step. The same
// functions, in the same order, as train_relu_epochs_on_cpu. kHidden: the layer's width as a
// constant (0: the layout's), so that level default's forward pass unrolls into registers.
template <std::uint32_t kHidden>
__global__ void __launch_bounds__(kThreads)
    relu_epochs_kernel(ReluLayout layout, const float* x, const float* y, const std::uint32_t* order, std::uint32_t count, int epochs,
                       float rate, bool quantized, const float* corrections, float* params, float* m, float* v) {
  extern __shared__ float rows[];
  __shared__ float batch[kMaxParameters];
  __shared__ float output_gradient[kThreads];
  if constexpr (kHidden != 0) layout.hidden = kHidden;
  const std::uint32_t size = layout.size();
  const std::uint32_t hidden = layout.hidden, row = relu_row(hidden);
  float* const pre_rows = rows;
  float* const act_rows = pre_rows + kThreads * row;
  float* const input_rows = act_rows + kThreads * row;
  const auto tid = static_cast<std::uint32_t>(threadIdx.x);
  float xs[f::kNetInputs];
  float target = 0.0f;
  // This thread's sample of the batch at `start` of `epoch` (none past the run's end).
  const auto load_sample = [&](int epoch, std::uint32_t start) {
    if (epoch >= epochs || start + tid >= count) return;
    const std::uint32_t s = order[static_cast<std::size_t>(epoch) * count + start + tid];
    for (int i = 0; i < f::kNetInputs; ++i) xs[i] = x[std::size_t{s} * f::kNetInputs + i];
    target = y[s];
  };
  load_sample(0, 0);
  std::uint64_t step = 0;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    for (std::uint32_t start = 0; start < count; start += kThreads, ++step) {
      for (std::uint32_t k = tid; k < size; k += kThreads) batch[k] = host::batch_weight(params[k], layout.unit(k), quantized);
      __syncthreads();
      const std::uint32_t n = min(count - start, static_cast<std::uint32_t>(kThreads));
      const float scale = 1.0f / static_cast<float>(n);
      if (tid < n) {
        float pre[f::kMaxNetHidden], act[f::kMaxNetHidden];
        const float out = host::relu_forward(layout, batch, xs, quantized, pre, act);
        output_gradient[tid] = host::l1_output_gradient(out, target, scale);
        for (std::uint32_t j = 0; j < hidden; ++j) pre_rows[tid * row + j] = pre[j], act_rows[tid * row + j] = act[j];
        for (int i = 0; i < f::kNetInputs; ++i) input_rows[tid * f::kNetInputs + i] = xs[i];
      }
      const bool last_of_epoch = start + kThreads >= count;
      load_sample(last_of_epoch ? epoch + 1 : epoch, last_of_epoch ? 0 : start + kThreads);
      __syncthreads();
      for (std::uint32_t k = tid; k < size; k += kThreads) {
        float gradient = 0.0f, term = 0.0f;
#pragma unroll 4
        for (std::uint32_t i = 0; i < n; ++i)
          if (host::relu_gradient_term(layout, k, output_gradient[i], batch, pre_rows + i * row, act_rows + i * row,
                                       input_rows + i * f::kNetInputs, term))
            gradient += term;
        host::adam_update(m[k], v[k], params[k], gradient, rate, layout.limit(k), corrections[2 * step], corrections[2 * step + 1]);
      }
      __syncthreads();  // the parameters are updated, and the rows read, before the next batch
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
  const auto kernel = layout.hidden == 16 ? relu_epochs_kernel<16> : relu_epochs_kernel<0>;  // 16: level default's width
  const std::size_t shared = relu_shared_bytes(layout.hidden);
  SPIKEY_CUDA_TRY(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared)));
  const double seconds = timed([&] {
    kernel<<<1, kThreads, shared>>>(layout, device.x.get(), device.y.get(), device.order.get(), static_cast<std::uint32_t>(count), run.epochs,
                                    run.rate, run.quantized, device.corrections.get(), device.params.get(), device.m.get(), device.v.get());
  });
  if (kernel_seconds) *kernel_seconds = seconds;
  device.params.download(parameters.data(), size);
}

}  // namespace spikey::cuda
