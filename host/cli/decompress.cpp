// spikey decompress: every original file back, byte-identical, each checked before it appears.
#include <algorithm>
#include <iostream>

#include "common.hpp"
#include "progress.hpp"
#include "spikey/format/archive_reader.hpp"
#include "spikey/host/decoder.hpp"

namespace spikey::cli {

namespace {

bool has_archive_suffix(const std::string& argument) {
  const std::string name = fs::path(argument).filename().string();
  return name.size() > kArchiveSuffix.size() && name.ends_with(kArchiveSuffix);
}

// Where a decompress without -o restores: the inverse of compress's default name. An archive
// named after one of its files ("run.bin.spikey": a file and its side files) restores beside
// itself; any other "NAME.spikey" (a folder's archive, or one given its own name) into the folder
// NAME beside itself, so its files do not spill among the archive's neighbours. Standard input
// restores into the current directory, as tar does.
fs::path default_restore_directory(const std::string& argument, const std::vector<format::SourceFile>& sources) {
  if (argument == "-") return ".";
  const fs::path archive(argument);
  const fs::path beside = archive.has_parent_path() ? archive.parent_path() : fs::path(".");
  const std::string name = archive.filename().string();
  const std::string stem = name.substr(0, name.size() - kArchiveSuffix.size());
  const bool named_after_a_file =
      std::any_of(sources.begin(), sources.end(), [&](const format::SourceFile& s) { return s.path == stem; });
  return (named_after_a_file ? beside : beside / stem).lexically_normal();
}

struct DecompressArgs {
  std::vector<std::string> archives;
  std::string output;
  bool force = false;
  bool fill_lost = false;
};

// One archive's files restored ("-o -": its one file, restored and checked in a scratch
// folder, then written out).
int decompress_archive(const DecompressArgs& a, const std::string& argument, const ArchiveArgument& archive, const CommonOptions& o) {
  const bool to_stdout = host::is_standard_output(a.output);
  const format::ArchiveReader reader(archive.path());
  warn_archive_damage(reader, archive.name());
  const host::ProtectedInput archive_is_input(archive.path());  // a restored file never replaces the archive
  const auto& sources = reader.metadata().sources;
  if (to_stdout && sources.size() != 1)
    throw UsageError(archive.name() + " holds " + std::to_string(sources.size()) +
                     " files; standard output (-o -) takes an archive of one: give a directory to restore into");
  std::optional<host::ScratchDirectory> scratch;
  if (to_stdout) scratch.emplace();
  const fs::path directory = to_stdout ? scratch->path() : a.output.empty() ? default_restore_directory(argument, sources) : fs::path(a.output);
  cli::ProgressBar bar(o.quiet);
  host::RestoreOptions options;
  options.output_directory = directory;
  options.force = a.force || to_stdout;
  options.fill_lost = a.fill_lost;
  options.threads = o.threads;
  options.progress = [&](std::uint64_t done, std::uint64_t total) { bar.update("restore", done, total); };
  // Refuse before decoding anything if a file cannot be restored or a destination exists.
  for (const auto& s : sources)
    if (s.omitted) throw format::ArchiveError(format::omitted_file_message(s.path));
  if (!options.force) {
    for (const auto& s : sources) {
      std::error_code ec;
      if (fs::exists(fs::symlink_status(options.output_directory / s.path, ec)))
        throw std::runtime_error((options.output_directory / s.path).lexically_normal().string() + " already exists (use -f to overwrite)");
    }
  }
  if (to_stdout) scratch->remove_on_signal(options.output_directory / sources.front().path);
  const host::RestoreReport r = host::restore_sources(reader, options);
  bar.clear();
  if (!r.mismatched_files.empty())
    throw format::ArchiveError("restored " + r.mismatched_files.front() + " does not match the original's checksum (" +
                               std::to_string(r.mismatched_files.size()) + " file(s) not written)");
  for (const auto& f : r.incomplete_files)
    std::cerr << "spikey: warning: " << f << " had samples in lost chunks or streams; they were written as zeros\n";
  if (to_stdout) copy_to_standard_output(options.output_directory / sources.front().path, sources.front().path);
  if (!o.quiet)
    std::cerr << "spikey: " << (a.archives.size() > 1 ? archive.name() + ": " : std::string()) << "restored " << r.files << " file(s), " << megabytes(r.bytes) << " to " << (to_stdout ? std::string("standard output") : directory == "." ? std::string("the current directory") : directory.string())
              << " in " << fixed(r.seconds, 2) << " s\n";
  return 0;
}

// Several archives (spikey decompress *.spikey): each restored (into -o, or where its name says)
// whatever the ones before it gave; exit status 1 if any failed.
int run_decompress(const DecompressArgs& a, const CommonOptions& o) {
  check_archive_arguments(a.archives);
  const bool to_stdout = host::is_standard_output(a.output);
  if (to_stdout && a.archives.size() > 1) throw UsageError("standard output (-o -) takes one archive, not " + std::to_string(a.archives.size()));
  if (to_stdout) refuse_terminal_output();
  if (a.output.empty())
    for (const std::string& archive : a.archives)
      if (archive != "-" && !has_archive_suffix(archive))
        throw UsageError(archive + " does not end in .spikey, so no folder is named after it: give -o DIRECTORY");
  std::vector<std::string> failed;
  for (const std::string& archive : a.archives) {
    json ignored;
    if (on_each_archive(archive, ignored, o, [&](const ArchiveArgument& input) { return decompress_archive(a, archive, input, o); }) != 0)
      failed.push_back(archive);
  }
  if (a.archives.size() > 1 && !o.quiet) report_archives(a.archives.size(), "restored", 0, failed);
  return failed.empty() ? 0 : kExitFailure;
}

}  // namespace

Subcommand add_decompress(CLI::App& app, CommonOptions& common) {
  auto args = std::make_shared<DecompressArgs>();
  auto* decompress = app.add_subcommand("decompress", "restore every original file, byte-identical");
  decompress->add_option("archives", args->archives, "archives to restore, each whatever the others give; - for standard input")->required();
  decompress->add_option("-o,--output", args->output, "directory to restore into (created if missing; default: beside ARCHIVE for NAME.spikey made from the file NAME, else the folder NAME beside it; the current directory for standard input); - for standard output (an archive of one file, written once checked)");
  decompress->add_flag("-f,--force", args->force, "overwrite existing files");
  decompress->add_flag("-q,--quiet", common.quiet, "no progress or summary");
  decompress->add_flag("--fill-lost", args->fill_lost, "salvaged archives: write the samples of lost chunks as zeros (and say which files)");
  add_threads(decompress, common);
  return {decompress, [args, &common] { return run_decompress(*args, common); }};
}

}  // namespace spikey::cli
