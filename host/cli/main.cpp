// spikey: command-line front end, one subcommand per file (common.hpp). Exit status: 0 success,
// 1 failure (bad input, corrupt archive, verify mismatch, I/O error), 2 wrong usage.
#include <CLI/CLI.hpp>

#include <malloc.h>

#include <csignal>
#include <iostream>

#include "common.hpp"
#include "spikey/host/output_file.hpp"
#include "spikey/version.hpp"

using namespace spikey;
using namespace spikey::cli;

int main(int argc, char** argv) {
  // Every chunk allocates and frees buffers of up to tens of MB (codes, samples, payloads). By
  // default glibc serves those by mmap and hands them back on free, so each chunk faults in
  // fresh zeroed pages again (twice the page faults, 5% of a Neuralink verify); keep them.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  host::install_cleanup_signal_handlers();
  // Past a file size limit (ulimit -f), a write fails with EFBIG and is reported like a full
  // disk, instead of the process being killed with its temporary files left behind.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"spikey: lossless compression of multi-electrode neural recordings into seekable archives"};
  app.set_version_flag("--version", std::string("spikey ") + kVersion);
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  spikey compress recordings/ -o session.spikey\n"
      "  spikey compress rec.bin --raw-channels 32 --raw-rate 30000 -o rec.spikey\n"
      "  spikey extract session.spikey --start 1.25 --end 1.5 --channels 0,7,100-131 -o window.npy\n"
      "  spikey verify session.spikey --json\n"
      "Exit status: 0 success, 1 failure, 2 wrong usage.");

  CommonOptions common;
  const Subcommand commands[] = {add_compress(app, common), add_topology(app, common), add_train(app, common),
                                 add_decompress(app, common), add_batch(app, common), add_salvage(app, common),
                                 add_extract(app, common), add_info(app, common), add_verify(app, common)};

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "spikey: " << e.what() << " (see spikey --help)\n";
    return kExitUsage;
  }

  try {
    for (const Subcommand& c : commands)
      if (*c.command) return c.run();
  } catch (const UsageError& e) {
    std::cerr << "spikey: " << e.what() << " (see spikey --help)\n";
    return kExitUsage;
  } catch (const std::invalid_argument& e) {
    std::cerr << "spikey: " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "spikey: " << e.what() << "\n";
    return kExitFailure;
  }
  return kExitUsage;
}
