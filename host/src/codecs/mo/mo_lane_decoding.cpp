#include "codecs/mo/mo_lane_decoding.hpp"

#include <algorithm>
#include <exception>
#include <map>
#include <set>
#include <vector>

#include "codecs/dependent_tasks.hpp"
#include "codecs/mo/mo_sources.hpp"
#include "spikey/format/codecs/stored_models.hpp"

namespace spikey::host::codecs {

namespace f = spikey::format;

void decode_in_lane_groups(const f::Metadata& meta, std::span<ChunkDecodeJob> jobs, const LaneStreamsFactory& make_streams, unsigned threads) {
  std::uint32_t max_depth = 0;
  const std::vector<std::uint32_t> depth = mo_channel_depths(meta, &max_depth);
  // Channels without the network ride in the network's groups where they fit in their free
  // lanes: fewer groups of steps for the same channels (cinpla: 5 groups a chunk became 4).
  std::map<std::uint32_t, std::pair<std::size_t, std::size_t>> lanes_by_length;  // n: channels with the network, without
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    const f::ChunkChannels& present = *jobs[j].present;
    for (std::size_t p = 0; p < present.channel.size(); ++p) {
      if (!(*jobs[j].needed)[p]) continue;
      auto& [with, without] = lanes_by_length[present.sample_count[p]];
      ++(meta.channels[present.channel[p]].predictor.uses_network() ? with : without);
    }
  }
  std::set<std::uint32_t> network_groups_take_all;
  const auto groups = [](std::size_t lanes) { return (lanes + lanes::kLanes - 1) / lanes::kLanes; };
  for (const auto& [n, count] : lanes_by_length)
    if (count.first != 0 && groups(count.first + count.second) == groups(count.first)) network_groups_take_all.insert(n);
  // Open groups by sample count, with the network stage and without (a group pays for the
  // network when any of its lanes uses it); a lane is a channel of a job.
  struct Lane {
    std::size_t job = 0, p = 0;
    std::uint32_t lag = 0;
    std::uint8_t in_group_source[f::kMaxMoSources] = {};
  };
  struct OpenGroup {
    std::vector<Lane> lanes;
    std::uint32_t n = 0;
  };
  std::map<std::pair<std::uint32_t, int>, OpenGroup> open;
  std::vector<std::vector<std::int8_t>> lane_of(jobs.size());  // per job, per present channel: its lane in an open group, or -1
  std::vector<std::vector<std::int8_t>> group_of(jobs.size());
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    lane_of[j].assign(jobs[j].present->channel.size(), -1);
    group_of[j].assign(jobs[j].present->channel.size(), -1);
  }
  // Groups are planned in order, then decoded as tasks, one or two groups a task
  // (mo_reconstruct_from runs two at once): each after the groups that decode its lanes'
  // sources outside it.
  struct PlannedGroup {
    std::vector<Lane> lanes;
    std::uint32_t n = 0;
    std::vector<std::size_t> after;  // planned groups that decode sources of its lanes
  };
  std::vector<PlannedGroup> planned;
  std::vector<std::vector<std::int64_t>> planned_of(jobs.size());  // per job, per present channel: the planned group decoding it, or -1
  for (std::size_t j = 0; j < jobs.size(); ++j) planned_of[j].assign(jobs[j].present->channel.size(), -1);
  // A group's lanes set up to decode (their streams opened, their sources filled); throws the
  // stream error of a malformed header.
  struct GroupDecoding {
    lanes::MoLaneGroup group;
    std::unique_ptr<LaneStreams> streams;
    std::vector<std::int32_t> weights[lanes::kLanes], source_buffers[lanes::kLanes * f::kMaxMoSources];
    std::int32_t first[lanes::kLanes] = {};
    std::int32_t* out[lanes::kLanes] = {};
  };
  const auto prepare = [&meta, jobs, &make_streams](const PlannedGroup& planned_group, unsigned worker, GroupDecoding& d) {
    lanes::MoLaneGroup& group = d.group;
    group.lanes = static_cast<int>(planned_group.lanes.size());
    group.n = planned_group.n;
    d.streams = make_streams(group.lanes, worker);
    for (std::size_t l = 0; l < planned_group.lanes.size(); ++l) {
      const Lane& lane = planned_group.lanes[l];
      const ChunkDecodeJob& job = jobs[lane.job];
      const std::size_t p = lane.p;
      auto& codes = *job.codes;
      const f::ChannelPredictor& predictor = meta.channels[job.present->channel[p]].predictor;
      bool adapt = false;
      if (!d.streams->start(static_cast<int>(l), lane.lag, job.stream(p), meta.channels[job.present->channel[p]], group.n, &adapt, &d.first[l]))
        throw job.stream_error(p, "malformed " + meta.codec.name + " stream header");
      group.model[l] = f::mo_model_of(predictor, meta.codec);
      if (!adapt) group.model[l].lms_step = 0;
      d.weights[l] = f::initial_weights(predictor);
      group.weights[l] = d.weights[l].data();
      group.lag[l] = lane.lag;
      std::copy(std::begin(lane.in_group_source), std::end(lane.in_group_source), group.in_group_source[l]);
      fill_middle_out_sources(predictor, *job.present, codes, group.n, &d.source_buffers[l * f::kMaxMoSources], group.sources[l]);
      codes[p].resize(group.n);
      d.out[l] = codes[p].data();
    }
  };
  // Throws the stream error of the group's first lane whose stream failed or did not end where it should.
  const auto check = [&meta, jobs](const PlannedGroup& planned_group, const GroupDecoding& d, bool decoded) {
    const LaneStreams& source = *d.streams;
    const std::vector<Lane>& lanes_of_group = planned_group.lanes;
    for (std::size_t l = 0; l < lanes_of_group.size(); ++l)
      if ((!decoded && source.failed_lane == static_cast<int>(l)) || (decoded && !source.finished(static_cast<int>(l))))
        throw jobs[lanes_of_group[l].job].stream_error(lanes_of_group[l].p, "malformed " + meta.codec.name + " stream");
    if (!decoded) throw jobs[lanes_of_group[0].job].stream_error(lanes_of_group[0].p, "malformed " + meta.codec.name + " stream");
  };
  // The groups of a task, in planned order. The error is the first group's that fails, as
  // if each were decoded alone in order: a later group's malformed header waits until the
  // groups before it have decoded.
  const auto decode_groups = [&prepare, &check, &planned, jobs](std::span<const std::size_t> members, unsigned worker) {
    GroupDecoding decoding[lanes::kMaxGroupsAtOnce];
    lanes::MoGroupDecoding runs[lanes::kMaxGroupsAtOnce];
    std::size_t count = 0;
    std::exception_ptr later_header;
    for (; count < members.size(); ++count) {
      try {
        prepare(planned[members[count]], worker, decoding[count]);
      } catch (...) {
        if (count == 0) throw;
        later_header = std::current_exception();
        break;
      }
      GroupDecoding& d = decoding[count];
      runs[count] = {&d.group, d.first, d.streams.get(), d.out};
    }
    lanes::mo_reconstruct_from(std::span<lanes::MoGroupDecoding>(runs, count));
    for (std::size_t i = 0; i < count; ++i) check(planned[members[i]], decoding[i], runs[i].ok);
    for (std::size_t i = 0; i < count; ++i)
      for (const Lane& lane : planned[members[i]].lanes)
        if (jobs[lane.job].channel_decoded) jobs[lane.job].channel_decoded(lane.p);
    if (later_header) std::rethrow_exception(later_header);
  };
  const auto flush = [&](OpenGroup& og) {
    if (og.lanes.empty()) return;
    PlannedGroup group{og.lanes, og.n, {}};
    for (const Lane& lane : og.lanes) {
      const f::ChunkChannels& present = *jobs[lane.job].present;
      const f::ChannelPredictor& predictor = meta.channels[present.channel[lane.p]].predictor;
      for (std::size_t k = 0; k < predictor.sources.size(); ++k) {
        const std::int64_t q = present.position(predictor.sources[k].channel);
        if (lane.in_group_source[k] == 0 && q >= 0 && planned_of[lane.job][static_cast<std::size_t>(q)] >= 0)
          group.after.push_back(static_cast<std::size_t>(planned_of[lane.job][static_cast<std::size_t>(q)]));
      }
    }
    std::sort(group.after.begin(), group.after.end());
    group.after.erase(std::unique(group.after.begin(), group.after.end()), group.after.end());
    for (const Lane& lane : og.lanes) {
      planned_of[lane.job][lane.p] = static_cast<std::int64_t>(planned.size());
      lane_of[lane.job][lane.p] = -1;
      group_of[lane.job][lane.p] = -1;
    }
    planned.push_back(std::move(group));
    og.lanes.clear();
  };
  const auto add = [&](std::size_t j, std::size_t p) {
    const ChunkDecodeJob& job = jobs[j];
    const f::ChunkChannels& present = *job.present;
    const f::ChannelPredictor& predictor = meta.channels[present.channel[p]].predictor;
    const std::uint32_t n = present.sample_count[p];
    // The lane joins the open group that holds its sources, if any (a channel without the
    // network may then ride in a group with it), else the group of its kind. A source in any
    // other open group is decoded first.
    int which = predictor.uses_network() || network_groups_take_all.count(n) != 0 ? 1 : 0;
    for (const auto& s : predictor.sources) {
      const std::int64_t q = present.position(s.channel);
      if (q >= 0 && group_of[j][static_cast<std::size_t>(q)] >= 0 && present.sample_count[static_cast<std::size_t>(q)] == n)
        which = group_of[j][static_cast<std::size_t>(q)];
    }
    for (const auto& s : predictor.sources) {
      const std::int64_t q = present.position(s.channel);
      if (q < 0 || group_of[j][static_cast<std::size_t>(q)] < 0) continue;
      const std::pair<std::uint32_t, int> key{present.sample_count[static_cast<std::size_t>(q)], group_of[j][static_cast<std::size_t>(q)]};
      if (key != std::pair<std::uint32_t, int>{n, which}) flush(open[key]);
    }
    OpenGroup& og = open[{n, which}];
    Lane lane{j, p};
    const auto half_window = static_cast<std::uint32_t>(f::mo_model_of(predictor, meta.codec).half_window);
    for (std::size_t k = 0; k < predictor.sources.size(); ++k) {
      const std::int64_t q = present.position(predictor.sources[k].channel);
      if (q < 0 || group_of[j][static_cast<std::size_t>(q)] < 0) continue;  // decoded: its buffer is filled from its codes
      const auto source_lane = static_cast<std::size_t>(lane_of[j][static_cast<std::size_t>(q)]);
      lane.in_group_source[k] = static_cast<std::uint8_t>(source_lane + 1);
      lane.lag = std::max(lane.lag, og.lanes[source_lane].lag + half_window + 1);
    }
    og.n = n;
    lane_of[j][p] = static_cast<std::int8_t>(og.lanes.size());
    group_of[j][p] = static_cast<std::int8_t>(which);
    og.lanes.push_back(lane);
    if (og.lanes.size() == static_cast<std::size_t>(lanes::kLanes)) flush(og);
  };
  for (std::uint32_t level = 0; level <= max_depth; ++level)
    for (std::size_t j = 0; j < jobs.size(); ++j) {
      const f::ChunkChannels& present = *jobs[j].present;
      for (std::size_t p = 0; p < present.channel.size(); ++p)
        if ((*jobs[j].needed)[p] && depth[present.channel[p]] == level) add(j, p);
    }
  for (auto& [key, og] : open) flush(og);
  // Two groups a task where there are groups enough for every thread (at least four tasks a
  // thread, so that the threads stay evenly loaded): a group and the next, unless the next
  // decodes sources of the first.
  const bool in_pairs = threads <= 1 || planned.size() >= 8 * std::size_t{threads};
  DependentTasks tasks;
  std::vector<std::size_t> task_of(planned.size());
  const auto add_task = [&](std::vector<std::size_t> members) {
    std::vector<std::size_t> after;
    for (const std::size_t g : members)
      for (const std::size_t before : planned[g].after) after.push_back(task_of[before]);
    std::sort(after.begin(), after.end());
    after.erase(std::unique(after.begin(), after.end()), after.end());
    const std::size_t task = tasks.add(after, [&decode_groups, members](unsigned worker) { decode_groups(members, worker); });
    for (const std::size_t g : members) task_of[g] = task;
  };
  constexpr std::size_t kNone = ~std::size_t{0};
  std::size_t waiting = kNone;  // a group planned before, not yet in a task
  for (std::size_t g = 0; g < planned.size(); ++g) {
    if (!in_pairs) {
      add_task({g});
    } else if (waiting != kNone && !std::binary_search(planned[g].after.begin(), planned[g].after.end(), waiting)) {
      add_task({waiting, g});
      waiting = kNone;
    } else {
      if (waiting != kNone) add_task({waiting});
      waiting = g;
    }
  }
  if (waiting != kNone) add_task({waiting});
  tasks.run(threads);
}

}  // namespace spikey::host::codecs
