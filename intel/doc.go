// Package intel answers questions over whole profiles' timelines: funnels,
// multi-touch attribution and paths. Because a profile is one person
// across every channel and identifier, a funnel that starts on the website
// and ends in a store, or a conversion credited to an email opened on
// another device, is counted as one person's journey.
//
// Each query is an accumulator: Add takes one profile's timeline (its
// events, in any order) and Result gives the answer for every profile
// added, so a store streams profiles through it page by page and never
// holds more than a page of events. The rules each query counts by are
// stated on its type and in the README.
package intel
